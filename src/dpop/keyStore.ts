import type { Clock, TimerHandle } from '../clock.js'
import { DEV } from '../dev.js'
import { AuthError } from '../errors.js'
import type { DpopKey } from './proof.js'

/** Where the origin's DPoP key lives: one per storage key, so two clients of a page keep apart. */
export interface KeyStore {
  /**
   * The stored key, or undefined when there is none, or no IndexedDB.
   * @throws {AuthError} `storage` when IndexedDB fails or does not answer in time: the key may be there.
   */
  load(): Promise<DpopKey | undefined>
  save(key: DpopKey): Promise<void>
  /** Deletes the stored key only if it is still `key` (another tab may have logged in since); never rejects. */
  remove(key: Promise<DpopKey | undefined>): Promise<void>
}

const STORE = 'keys'

/**
 * The key in IndexedDB, so every tab of the origin and a reload use the same one (a CryptoKey is
 * stored as it is, its private half still unexportable). Every call settles within `timeoutMs`.
 * Without IndexedDB nothing is stored: the tab that
 * logged in keeps the key with the tokens (dpop()'s `known`), and no other tab or reload has it.
 */
export function keyStore(name: string, clock: Clock, timeoutMs: number): KeyStore {
  /**
   * Runs one transaction (read-only unless `mode` says otherwise) on a connection of its own: one
   * that failed or hangs is not kept, so the next call starts afresh. Resolves with the result of
   * the request `work` made, once committed.
   */
  const transact = <T>(work: (store: IDBObjectStore) => IDBRequest, mode?: IDBTransactionMode): Promise<T> => {
    let timer: TimerHandle
    return Promise.race([
      new Promise<T>((resolve, reject) => {
        const open = indexedDB.open('tokenkeeper-dpop', 1)
        open.onupgradeneeded = () => open.result.createObjectStore(STORE)
        open.onerror = reject
        open.onsuccess = () => {
          const transaction = open.result.transaction(STORE, mode)
          const request = work(transaction.objectStore(STORE))
          transaction.oncomplete = () => resolve(request.result)
          transaction.onabort = reject // an error aborts it too
          open.result.close() // once the transaction is done
        }
      }),
      new Promise<never>((_, reject) => (timer = clock.setTimeout(reject, timeoutMs))),
    ]).finally(() => clock.clearTimeout(timer))
  }

  return {
    load: () =>
      globalThis.indexedDB
        ? transact<DpopKey | undefined>((store) => store.get(name)).catch((cause) => {
            throw new AuthError('storage', DEV ? 'dpop: IndexedDB failed or did not answer; the DPoP key may be there' : '', { cause })
          })
        : Promise.resolve(undefined),
    save: (key) => transact<void>((store) => store.put(key, name), 'readwrite').catch(() => undefined),
    remove: (key) =>
      key
        .then((ended) =>
          transact<void>((store) => {
            const request = store.get(name)
            request.onsuccess = () => request.result?.id === ended?.id && store.delete(name)
            return request
          }, 'readwrite'),
        )
        .catch(() => undefined),
  }
}
