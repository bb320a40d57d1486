/**
 * GraphQL validation rules that bound what one operation may ask for:
 * selection depth, number of aliases and total field selections. A hostile
 * query is refused before it executes.
 */
import {
  GraphQLError,
  Kind,
  type ASTVisitor,
  type FragmentDefinitionNode,
  type SelectionSetNode,
  type ValidationContext,
} from 'graphql';
import type { Plugin } from 'graphql-yoga';

interface QueryLimits {
  maxDepth: number;
  maxAliases: number;
  maxFields: number;
}

const DEFAULT_QUERY_LIMITS: QueryLimits = { maxDepth: 12, maxAliases: 30, maxFields: 2_000 };

export function queryLimitsRule(limits: QueryLimits = DEFAULT_QUERY_LIMITS) {
  return (ctx: ValidationContext): ASTVisitor => {
    const fragments = new Map<string, FragmentDefinitionNode>();
    for (const d of ctx.getDocument().definitions) if (d.kind === Kind.FRAGMENT_DEFINITION) fragments.set(d.name.value, d);
    let aliases = 0;
    let fields = 0;
    let reported = false;
    const report = (message: string): void => {
      if (reported) return;
      reported = true;
      ctx.reportError(new GraphQLError(message, { extensions: { code: 'QUERY_TOO_COMPLEX' } }));
    };
    const walk = (set: SelectionSetNode, depth: number, seen: Set<string>): void => {
      if (reported) return;
      if (depth > limits.maxDepth) return report(`query is deeper than ${limits.maxDepth} levels`);
      for (const sel of set.selections) {
        if (sel.kind === Kind.FIELD) {
          fields++;
          if (sel.alias) aliases++;
          if (fields > limits.maxFields) return report(`query selects more than ${limits.maxFields} fields`);
          if (aliases > limits.maxAliases) return report(`query uses more than ${limits.maxAliases} aliases`);
          if (sel.selectionSet) walk(sel.selectionSet, depth + 1, seen);
        } else if (sel.kind === Kind.INLINE_FRAGMENT) {
          walk(sel.selectionSet, depth, seen);
        } else {
          const f = fragments.get(sel.name.value);
          if (f && !seen.has(f.name.value)) walk(f.selectionSet, depth, new Set([...seen, f.name.value]));
        }
      }
    };
    return {
      OperationDefinition(node) {
        walk(node.selectionSet, 1, new Set());
      },
    };
  };
}

/** The yoga plugin adding the rule. */
export function useQueryLimits(limits: QueryLimits = DEFAULT_QUERY_LIMITS): Plugin {
  return {
    onValidate({ addValidationRule }) {
      addValidationRule(queryLimitsRule(limits));
    },
  };
}
