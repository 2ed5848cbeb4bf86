export {
  type ProgressEvent,
  type ProgressEventType,
  type ProgressWriter,
  type TimelessEvent,
  stamp,
  type BuildContext,
  nullProgress,
  createRecordingProgress,
  teeProgress,
} from './events.js';
