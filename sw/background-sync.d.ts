/** Background Sync (one-shot), which TypeScript's WebWorker lib does not declare. */
interface SyncManager {
  register(tag: string): Promise<void>;
  getTags(): Promise<string[]>;
}

interface SyncEvent extends ExtendableEvent {
  readonly tag: string;
  readonly lastChance: boolean;
}

interface ServiceWorkerRegistration {
  /** Absent where the browser has no Background Sync (Firefox, Safari). */
  readonly sync?: SyncManager;
}

interface ServiceWorkerGlobalScopeEventMap {
  sync: SyncEvent;
}
