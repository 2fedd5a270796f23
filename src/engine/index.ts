// Public API of the LSTM engine (DESIGN §5): config, createModel / loadModel, fit / predict, TF.js-format files.
// Leaves data preparation (scaling, windows), model registries and the CLI to other stages.
export {
  type Activation,
  DEFAULT_MODEL_CONFIG,
  type LayerConfig,
  type ModelConfig,
  type ResolvedConfig,
  type ResolvedLayer,
  resolveConfig,
} from './config.js';
export type { ForecastThreadOptions, ForecastThreadStats, PredictJob } from './forecast-thread.js';
export { MODEL_JSON, WEIGHTS_BIN } from './io.js';
export {
  type BatchEndInfo,
  createModel,
  type EpochEndInfo,
  type FitHistory,
  type FitOptions,
  LstmModel,
  loadModel,
  type NamedWeight,
  type OptimizerState,
  type StopReason,
  saveModel,
} from './model.js';
export type { Tensor2, Tensor3 } from './validate.js';
