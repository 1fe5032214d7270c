import cluster, { type Worker } from 'node:cluster';
import { AggregatorRegistry, type Registry } from 'prom-client';

/**
 * Metrics across node:cluster workers. Each worker keeps its own registry; the primary
 * gathers them over IPC (prom-client's AggregatorRegistry: counters and histograms summed,
 * gauges by their declared aggregator) so every scrape shows the whole node, whether it is
 * served by the primary's metrics listener or by the admin API in a worker.
 */
const REQUEST = 'keyhold:metrics-request';
const RESPONSE = 'keyhold:metrics-response';

interface Request {
  type: typeof REQUEST;
  id: number;
}
interface Response {
  type: typeof RESPONSE;
  id: number;
  text?: string;
  error?: string;
}

const isRequest = (m: unknown): m is Request => typeof m === 'object' && m !== null && (m as Request).type === REQUEST;
const isResponse = (m: unknown): m is Response => typeof m === 'object' && m !== null && (m as Response).type === RESPONSE;

export interface ClusterMetricsPrimary {
  render(): Promise<string>;
  readonly contentType: string;
  close(): void;
}

/** In the primary: renders the cluster's metrics, and answers workers that ask for them. */
export function serveClusterMetrics(): ClusterMetricsPrimary {
  const aggregator = new AggregatorRegistry();
  const onMessage = (worker: Worker, m: unknown) => {
    if (!isRequest(m)) return;
    aggregator.clusterMetrics().then(
      (text) => worker.isConnected() && worker.send({ type: RESPONSE, id: m.id, text } satisfies Response),
      (e: unknown) => worker.isConnected() && worker.send({ type: RESPONSE, id: m.id, error: e instanceof Error ? e.message : String(e) } satisfies Response),
    );
  };
  cluster.on('message', onMessage);
  return {
    render: () => aggregator.clusterMetrics(),
    contentType: aggregator.contentType,
    close: () => void cluster.off('message', onMessage),
  };
}

/**
 * In a worker: offers this worker's registry to the primary's aggregation, and returns a
 * render() that asks the primary for the whole cluster's metrics.
 */
export function joinClusterMetrics(registry: Registry, timeoutMs = 5000): () => Promise<string> {
  new AggregatorRegistry(); // installs the worker side of prom-client's aggregation protocol
  AggregatorRegistry.setRegistries([registry]);
  let next = 0;
  const pending = new Map<number, { resolve(text: string): void; reject(e: Error): void; timer: NodeJS.Timeout }>();
  process.on('message', (m: unknown) => {
    if (!isResponse(m)) return;
    const p = pending.get(m.id);
    if (!p) return;
    pending.delete(m.id);
    clearTimeout(p.timer);
    if (m.text !== undefined) p.resolve(m.text);
    else p.reject(new Error(`cluster metrics: ${m.error ?? 'no answer'}`));
  });
  return () =>
    new Promise<string>((resolve, reject) => {
      if (!process.send) return reject(new Error('cluster metrics: not a cluster worker'));
      const id = next++;
      const timer = setTimeout(() => {
        pending.delete(id);
        reject(new Error('cluster metrics: the primary did not answer in time'));
      }, timeoutMs);
      timer.unref();
      pending.set(id, { resolve, reject, timer });
      process.send({ type: REQUEST, id } satisfies Request);
    });
}
