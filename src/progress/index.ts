export {
  type ProgressEvent,
  type ProgressEventType,
  type ProgressWriter,
  type BuildContext,
  nullProgress,
  createRecordingProgress,
  teeProgress,
} from './events.js';
