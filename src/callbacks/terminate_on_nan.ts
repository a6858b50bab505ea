import { Callback, Logs } from './callback';
import { DeepnodeError } from '../errors';
import { checkBool, optionsOf, requireModel, say } from './monitor';

/** Options of {@link TerminateOnNaN}. */
export interface TerminateOnNaNArgs {
  /** Throw an ERR_NON_FINITE error at once instead of stopping gracefully. Default false. */
  raiseError?: boolean;
}

/**
 * Keras's TerminateOnNaN: after each batch, a NaN or infinite 'loss' stops training
 * (model.stopTraining, so onTrainEnd still runs), or throws with raiseError.
 * Keras: `keras.callbacks.TerminateOnNaN`.
 */
export class TerminateOnNaN extends Callback {
  /** Throw an ERR_NON_FINITE error at once instead of stopping gracefully. Default false. */
  readonly raiseError: boolean;

  constructor(args?: TerminateOnNaNArgs) {
    super();
    this.raiseError = checkBool('TerminateOnNaN', 'raiseError', optionsOf('TerminateOnNaN', args, ['raiseError']).raiseError ?? false);
  }

  override onBatchEnd(batch: number, logs: Logs): void {
    const loss = logs.loss;
    if (loss === undefined || Number.isFinite(loss)) return;
    if (this.raiseError) {
      throw new DeepnodeError('ERR_NON_FINITE', `TerminateOnNaN: NaN or Inf loss encountered at batch ${batch}, loss=${loss}; terminating training`);
    }
    say(`Batch ${batch}: Invalid loss, terminating training`);
    requireModel('TerminateOnNaN', this.model).stopTraining = true;
  }
}
