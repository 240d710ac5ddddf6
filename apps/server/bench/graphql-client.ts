export type GraphqlResponse = { data?: Record<string, unknown> | null; errors?: unknown[] };

/** One GraphQL request over HTTP; throws on a non-2xx status or any GraphQL error. */
export async function graphql(
  baseUrl: string,
  query: string,
  options: { token?: string; variables?: Record<string, unknown> } = {},
): Promise<Record<string, unknown>> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  const response = await fetch(`${baseUrl}/graphql`, {
    method: 'POST',
    headers,
    body: JSON.stringify({ query, variables: options.variables ?? {} }),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await response.text();
  let body: GraphqlResponse;
  try {
    body = JSON.parse(text) as GraphqlResponse;
  } catch {
    throw new Error(
      `POST /graphql answered ${response.status} with a body that is not JSON: ${text.slice(0, 300)}`,
    );
  }
  if (!response.ok || body.errors?.length || !body.data) {
    throw new Error(`POST /graphql answered ${response.status}: ${text.slice(0, 500)}`);
  }
  return body.data;
}

export const BENCH_ACCOUNT = { email: 'admin@olo.local', password: 'olo-demo-password' };

const SIGN_IN = `mutation SignIn($email: String!, $password: String!) {
  signInWithEmail(email: $email, password: $password, device: { name: "olo-bench" }) { accessToken }
}`;

/** Signs in as the seeded admin and returns its access token. */
export async function signIn(baseUrl: string): Promise<string> {
  const data = await graphql(baseUrl, SIGN_IN, { variables: BENCH_ACCOUNT });
  const payload = data.signInWithEmail as { accessToken?: unknown } | null | undefined;
  if (typeof payload?.accessToken !== 'string') throw new Error('signInWithEmail returned no access token');
  return payload.accessToken;
}
