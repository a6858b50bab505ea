export { Callback, CallbackList, LambdaCallback } from './callback';
export type { Logs, TrainingParams, TrainingModel } from './callback';
export { History } from './history';
export { ProgbarLogger } from './progbar';
import { LambdaCallback } from './callback';
export const lambda = (hooks: ConstructorParameters<typeof LambdaCallback>[0]) => new LambdaCallback(hooks);
