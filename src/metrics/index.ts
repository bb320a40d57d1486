/**
 * The metrics part of a node: the metrics themselves, and where /metrics is served
 * (an extension of the HTTP listener, or `metrics.listenaddr`).
 */
import type { Plugin } from 'graphql-yoga';
import type { Config } from '../config.js';
import type { AdminPolicy } from '../http/admin-token.js';
import type { HttpExtension } from '../http/http-server.js';
import { metricsExtension, startMetricsServer } from './metrics-http.js';
import { NodeMetrics, type NodeMetricsSources } from './node-metrics.js';

export interface MetricsPart {
  /** What the HTTP listener adds (empty when /metrics has a listener of its own). */
  readonly extensions: HttpExtension[];
  /** Counts one relayed API call (see {@link NodeMetrics.observeRelay}). */
  readonly observeRelay: NodeMetrics['observeRelay'];
  /** The GraphQL operation metrics, as yoga plugins (loaded with GraphQL). */
  readonly graphqlPlugins: () => Promise<Plugin[]>;
  /** The address of `metrics.listenaddr`, or null when /metrics is on the HTTP listener. */
  readonly address: { host: string; port: number } | null;
  close(): Promise<void>;
}

export async function startMetrics(config: Config['metrics'], sources: Omit<NodeMetricsSources, 'maxStreamLabels'>, admin: AdminPolicy): Promise<MetricsPart> {
  const metrics = new NodeMetrics({ ...sources, maxStreamLabels: config.maxStreamLabels });
  try {
    const own = config.listen ? await startMetricsServer(config.listen, metrics, admin, sources.logger) : null;
    return {
      extensions: own ? [] : [metricsExtension(metrics, admin, sources.logger)],
      observeRelay: metrics.observeRelay,
      graphqlPlugins: async () => [(await import('./use-graphql-metrics.js')).useGraphQLMetrics(metrics.registry)],
      address: own?.address ?? null,
      async close() {
        metrics.close();
        await own?.close();
      },
    };
  } catch (err) {
    metrics.close();
    throw err;
  }
}
