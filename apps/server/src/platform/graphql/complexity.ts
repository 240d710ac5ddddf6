import {
  BREAK,
  type DocumentNode,
  type FieldNode,
  type FragmentDefinitionNode,
  GraphQLError,
  type GraphQLField,
  type GraphQLNamedType,
  type GraphQLSchema,
  getNamedType,
  getNullableType,
  isInterfaceType,
  isIntrospectionType,
  isListType,
  isObjectType,
  Kind,
  type OperationDefinitionNode,
  SchemaMetaFieldDef,
  type SelectionSetNode,
  TypeMetaFieldDef,
  TypeNameMetaFieldDef,
  type ValidationRule,
  visit,
} from 'graphql';

/** What one operation may ask for before it runs; the same over HTTP and WebSocket. */
export type OperationLimits = { maxDepth: number; maxComplexity: number };

/** Items assumed for a list whose size no `first`/`last`/`limit` argument (or default) gives. */
export const DEFAULT_LIST_SIZE = 10;

const SIZE_ARGUMENTS = new Set(['first', 'last', 'limit']);

/** The request's variables; `undefined` when they are not known yet (Mercurius's cached validation). */
type Variables = Readonly<Record<string, unknown>> | null | undefined;

export type OperationMeasure = { depth: number; cost: number };

function fieldDefinition(
  schema: GraphQLSchema,
  parent: GraphQLNamedType,
  name: string,
): GraphQLField<unknown, unknown> | undefined {
  if (name === TypeNameMetaFieldDef.name) return TypeNameMetaFieldDef;
  if (parent === schema.getQueryType()) {
    if (name === SchemaMetaFieldDef.name) return SchemaMetaFieldDef;
    if (name === TypeMetaFieldDef.name) return TypeMetaFieldDef;
  }
  return isObjectType(parent) || isInterfaceType(parent) ? parent.getFields()[name] : undefined;
}

const asSize = (value: unknown): number | undefined =>
  typeof value === 'number' && Number.isInteger(value) && value >= 0 ? value : undefined;

/**
 * Depth (fields nested, fragments expanded) and cost of one operation. Every field costs 1; the
 * fields under a list cost once per item. A list's size is its `first`/`last`/`limit` argument (a
 * literal, the variable's value or default, or the schema's default for the argument); a field
 * with such an argument that returns a page object (`events(first: 20) { items { … } }`) sizes the
 * lists directly inside the page. Without either, a list counts DEFAULT_LIST_SIZE items. With
 * `variables` unknown, a size taken from a variable counts as 0, so the result is a lower bound.
 * Lists of the introspection types are bounded by the schema and answered from memory, so their
 * fields count once.
 */
export function measureOperation(
  schema: GraphQLSchema,
  operation: OperationDefinitionNode,
  fragmentOf: (name: string) => FragmentDefinitionNode | undefined,
  variables?: Variables,
): OperationMeasure {
  const defaults = new Map<string, unknown>();
  for (const definition of operation.variableDefinitions ?? []) {
    const value = definition.defaultValue;
    if (value?.kind === Kind.INT) defaults.set(definition.variable.name.value, Number(value.value));
  }
  const fragments = new Map<string, OperationMeasure>();
  const expanding = new Set<string>();

  /** The size the field's arguments ask for, if they say. */
  const sizeOf = (node: FieldNode, definition: GraphQLField<unknown, unknown> | undefined) => {
    let size: number | undefined;
    for (const name of SIZE_ARGUMENTS) {
      const value = node.arguments?.find((argument) => argument.name.value === name)?.value;
      const declared = asSize(definition?.args.find((argument) => argument.name === name)?.defaultValue);
      let given: number | undefined;
      if (value === undefined) given = declared;
      else if (value.kind === Kind.INT) given = asSize(Number(value.value));
      else if (value.kind === Kind.VARIABLE) {
        const variable = value.name.value;
        given =
          variables === undefined
            ? 0
            : (asSize(variables?.[variable]) ?? asSize(defaults.get(variable)) ?? declared);
      }
      if (given !== undefined) size = Math.max(size ?? 0, given);
    }
    return size;
  };

  const selectionSet = (
    set: SelectionSetNode | undefined,
    parent: GraphQLNamedType | undefined,
    pageSize: number | undefined,
  ) => {
    const total: OperationMeasure = { depth: 0, cost: 0 };
    for (const selection of set?.selections ?? []) {
      let part: OperationMeasure;
      if (selection.kind === Kind.FIELD) part = field(selection, parent, pageSize);
      else if (selection.kind === Kind.INLINE_FRAGMENT) {
        const condition = selection.typeCondition?.name.value;
        const type = condition ? schema.getType(condition) : parent;
        part = selectionSet(selection.selectionSet, type, pageSize);
      } else part = spread(selection.name.value, pageSize);
      total.cost += part.cost;
      total.depth = Math.max(total.depth, part.depth);
    }
    return total;
  };

  const field = (
    node: FieldNode,
    parent: GraphQLNamedType | undefined,
    pageSize: number | undefined,
  ): OperationMeasure => {
    const definition = parent ? fieldDefinition(schema, parent, node.name.value) : undefined;
    const type = definition?.type;
    const introspection = parent !== undefined && isIntrospectionType(parent);
    const size = introspection ? undefined : sizeOf(node, definition);
    const list = type !== undefined && isListType(getNullableType(type));
    const children = selectionSet(node.selectionSet, type && getNamedType(type), list ? undefined : size);
    const items = list && !introspection ? (size ?? pageSize ?? DEFAULT_LIST_SIZE) : 1;
    return { depth: 1 + children.depth, cost: 1 + items * children.cost };
  };

  const spread = (name: string, pageSize: number | undefined): OperationMeasure => {
    const key = `${name}/${pageSize ?? ''}`;
    const known = fragments.get(key);
    if (known) return known;
    const fragment = fragmentOf(name);
    // An unknown or cyclic fragment is reported by graphql's own rules; it adds nothing here.
    if (!fragment || expanding.has(name)) return { depth: 0, cost: 0 };
    expanding.add(name);
    const type = schema.getType(fragment.typeCondition.name.value);
    const measured = selectionSet(fragment.selectionSet, type, pageSize);
    expanding.delete(name);
    fragments.set(key, measured);
    return measured;
  };

  const rootType = schema.getRootType(operation.operation) ?? undefined;
  return selectionSet(operation.selectionSet, rootType, undefined);
}

const tooDeep = (depth: number, limit: number) =>
  `Operation is too deep: depth ${depth} exceeds the limit of ${limit}`;
const tooComplex = (cost: number, limit: number) =>
  `Operation is too complex: cost ${cost} exceeds the limit of ${limit}; ask for fewer fields or smaller pages`;

/**
 * Refuses operations deeper than `maxDepth` or costlier than `maxComplexity` (GRAPHQL_VALIDATION_FAILED).
 * Mercurius validates once per query text, without variables: there a list sized by a variable counts
 * as empty, and `variableCostErrors` checks the request's values before it runs.
 */
export function operationLimitsRule(limits: OperationLimits, variables?: Variables): ValidationRule {
  return (context) => ({
    OperationDefinition(operation) {
      const measured = measureOperation(
        context.getSchema(),
        operation,
        (name) => context.getFragment(name) ?? undefined,
        variables,
      );
      if (measured.depth > limits.maxDepth) {
        context.reportError(new GraphQLError(tooDeep(measured.depth, limits.maxDepth), { nodes: operation }));
      }
      if (measured.cost > limits.maxComplexity) {
        context.reportError(
          new GraphQLError(tooComplex(measured.cost, limits.maxComplexity), { nodes: operation }),
        );
      }
      return false;
    },
  });
}

// Mercurius keeps one parsed document per query text, so each is scanned once.
const sizedByVariable = new WeakMap<DocumentNode, boolean>();

function hasVariableSizes(document: DocumentNode): boolean {
  const known = sizedByVariable.get(document);
  if (known !== undefined) return known;
  let found = false;
  visit(document, {
    Argument(node) {
      if (!SIZE_ARGUMENTS.has(node.name.value) || node.value.kind !== Kind.VARIABLE) return undefined;
      found = true;
      return BREAK;
    },
  });
  sizedByVariable.set(document, found);
  return found;
}

/**
 * The cost check again with the request's variables, for documents where a variable sizes a list
 * (the validation rule could only assume a size). Empty when every operation is within the limit.
 */
export function variableCostErrors(
  schema: GraphQLSchema,
  document: DocumentNode,
  variables: Variables,
  maxComplexity: number,
): GraphQLError[] {
  if (!hasVariableSizes(document)) return [];
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const definition of document.definitions) {
    if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition);
  }
  const errors: GraphQLError[] = [];
  for (const definition of document.definitions) {
    if (definition.kind !== Kind.OPERATION_DEFINITION) continue;
    const { cost } = measureOperation(schema, definition, (name) => fragments.get(name), variables);
    if (cost > maxComplexity) {
      errors.push(new GraphQLError(tooComplex(cost, maxComplexity), { nodes: definition }));
    }
  }
  return errors;
}
