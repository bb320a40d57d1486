/**
 * GraphQL operation metrics (graphql-yoga's Prometheus plugin) in the node's registry.
 * Labels are bounded: the operation type and the phase of an error, never the
 * operation name or a field path (both are the caller's to choose).
 */
import { usePrometheus } from '@graphql-yoga/plugin-prometheus';
import type { Plugin } from 'graphql-yoga';
import type { Registry } from 'prom-client';

export function useGraphQLMetrics(registry: Registry): Plugin {
  return usePrometheus({
    registry,
    endpoint: false,
    labels: { operationName: false, operationType: true, fieldName: false, typeName: false, returnType: false, path: false, phase: true },
    metrics: {
      graphql_envelop_request: true,
      graphql_envelop_request_duration: true,
      graphql_envelop_error_result: true,
      graphql_envelop_request_time_summary: false,
      graphql_envelop_phase_parse: false,
      graphql_envelop_phase_validate: false,
      graphql_envelop_phase_context: false,
      graphql_envelop_phase_execute: false,
      graphql_envelop_phase_subscribe: false,
      graphql_envelop_deprecated_field: false,
      graphql_envelop_schema_change: false,
      graphql_envelop_execute_resolver: false,
      graphql_yoga_http_duration: false,
    },
  });
}
