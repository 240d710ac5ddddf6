import { builder } from '../graphql/builder.ts';

builder.mutationField('rotateSigningKey', (t) =>
  t.id({
    description:
      'Starts signing OLO tokens with a new key; earlier keys keep verifying until their tokens expire',
    authScopes: { role: ['admin'] },
    resolve: (_root, _args, ctx) => ctx.services.signingKeys.rotate(),
  }),
);
