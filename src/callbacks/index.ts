export { Callback, CallbackList, LambdaCallback } from './callback';
export type { Logs, TrainingParams, TrainingModel, TrainingOptimizer } from './callback';
export { History } from './history';
export { ProgbarLogger } from './progbar';
export { EarlyStopping } from './early_stopping';
export type { EarlyStoppingArgs } from './early_stopping';
export { TerminateOnNaN } from './terminate_on_nan';
export type { TerminateOnNaNArgs } from './terminate_on_nan';
export { CSVLogger } from './csv_logger';
export type { CSVLoggerArgs } from './csv_logger';
export { LearningRateScheduler } from './learning_rate_scheduler';
export type { EpochSchedule } from './learning_rate_scheduler';
export { ReduceLROnPlateau } from './reduce_lr_on_plateau';
export type { ReduceLROnPlateauArgs } from './reduce_lr_on_plateau';
export type { MonitorMode } from './monitor';
export { ModelCheckpoint, formatFilepath } from './model_checkpoint';
export type { ModelCheckpointArgs } from './model_checkpoint';
import { LambdaCallback } from './callback';
import { EarlyStopping, EarlyStoppingArgs } from './early_stopping';
import { TerminateOnNaN, TerminateOnNaNArgs } from './terminate_on_nan';
import { CSVLogger, CSVLoggerArgs } from './csv_logger';
import { LearningRateScheduler, EpochSchedule } from './learning_rate_scheduler';
import { ReduceLROnPlateau, ReduceLROnPlateauArgs } from './reduce_lr_on_plateau';

/** Creates a new {@link LambdaCallback} from plain hook functions. Keras: `keras.callbacks.LambdaCallback`. */
export const lambda = (hooks: ConstructorParameters<typeof LambdaCallback>[0]) => new LambdaCallback(hooks);
/** Creates a new {@link EarlyStopping} (same as `new EarlyStopping(...)`). Keras: `keras.callbacks.EarlyStopping`. */
export const earlyStopping = (args?: EarlyStoppingArgs) => new EarlyStopping(args);
/** Creates a new {@link TerminateOnNaN} (same as `new TerminateOnNaN(...)`). Keras: `keras.callbacks.TerminateOnNaN`. */
export const terminateOnNaN = (args?: TerminateOnNaNArgs) => new TerminateOnNaN(args);
/** Creates a new {@link CSVLogger} (same as `new CSVLogger(...)`). Keras: `keras.callbacks.CSVLogger`. */
export const csvLogger = (filename: string, args?: CSVLoggerArgs) => new CSVLogger(filename, args);
/** Creates a new {@link LearningRateScheduler} (same as `new LearningRateScheduler(...)`). Keras: `keras.callbacks.LearningRateScheduler`. */
export const learningRateScheduler = (schedule: EpochSchedule, args?: { verbose?: 0 | 1 }) => new LearningRateScheduler(schedule, args);
/** Creates a new {@link ReduceLROnPlateau} (same as `new ReduceLROnPlateau(...)`). Keras: `keras.callbacks.ReduceLROnPlateau`. */
export const reduceLROnPlateau = (args?: ReduceLROnPlateauArgs) => new ReduceLROnPlateau(args);
import { ModelCheckpoint, ModelCheckpointArgs } from './model_checkpoint';
/** Creates a new {@link ModelCheckpoint} (same as `new ModelCheckpoint(...)`). Keras: `keras.callbacks.ModelCheckpoint`. */
export const modelCheckpoint = (filepath: string, args?: ModelCheckpointArgs) => new ModelCheckpoint(filepath, args);
export { GradientStats } from './gradient_stats';
export type { GradientStatsArgs, LayerStats, GradientStatsInfo } from './gradient_stats';
import { GradientStats, GradientStatsArgs } from './gradient_stats';
/** Creates a new {@link GradientStats} (same as `new GradientStats(...)`). */
export const gradientStats = (args?: GradientStatsArgs) => new GradientStats(args);
export { TensorBoard } from './tensorboard';
export type { TensorBoardArgs } from './tensorboard';
import { TensorBoard, TensorBoardArgs } from './tensorboard';
/** Creates a new {@link TensorBoard} (same as `new TensorBoard(...)`). Keras: `keras.callbacks.TensorBoard`. */
export const tensorBoard = (args?: TensorBoardArgs) => new TensorBoard(args);
