export {
  collectMetrics,
  PRESSURE_LEVELS,
  type CollectMetricsOptions,
  type MetricsHandle,
  type MetricsRegistry,
  type MetricsSource,
} from './prometheus.js';
