import type { Clock, TimerHandle } from '../clock.js'
import type { DpopKey } from './proof.js'

/** Where the origin's DPoP key lives: one per storage key, so two clients of a page keep apart. */
export interface KeyStore {
  /** The stored key, or undefined when there is none. */
  load(): Promise<DpopKey | undefined>
  save(key: DpopKey): Promise<void>
  /** Deletes the stored key only if it is still `key`: another tab may have logged in since. */
  remove(key: DpopKey | undefined): Promise<void>
}

const STORE = 'keys'

/**
 * The key in IndexedDB, so every tab of the origin and a reload use the same one (a CryptoKey is
 * stored as it is, its private half still unexportable). Where IndexedDB is missing, fails, or
 * once does not answer within `timeoutMs`, the key of this page: its sessions cannot outlive it.
 */
export function keyStore(name: string, clock: Clock, timeoutMs: number): KeyStore {
  let page: DpopKey | undefined
  let database: Promise<IDBDatabase> | undefined

  /** Runs one transaction (read-only unless `mode` says otherwise); resolves with the result of the request `work` made, once committed. */
  const transact = <T>(work: (store: IDBObjectStore) => IDBRequest, mode?: IDBTransactionMode): Promise<T> => {
    database ??= new Promise((opened, failed) => {
      const request = indexedDB.open('tokenkeeper-dpop', 1)
      request.onupgradeneeded = () => request.result.createObjectStore(STORE)
      request.onsuccess = () => opened(request.result)
      request.onerror = failed
    })
    let timer: TimerHandle
    return Promise.race([
      database.then(
        (db) =>
          new Promise<T>((resolve, reject) => {
            const transaction = db.transaction(STORE, mode)
            const request = work(transaction.objectStore(STORE))
            transaction.oncomplete = () => resolve(request.result)
            transaction.onabort = reject // an error aborts it too
          }),
      ),
      new Promise<never>((_, reject) => {
        timer = clock.setTimeout(() => {
          // A database that hangs once stays out of the way: each call would wait as long again.
          ;(database = Promise.reject()).catch(reject)
        }, timeoutMs)
      }),
    ]).finally(() => clock.clearTimeout(timer))
  }

  return {
    load: () => transact<DpopKey | undefined>((store) => store.get(name)).catch(() => page),
    save(key) {
      page = key
      return transact<void>((store) => store.put(key, name), 'readwrite').catch(() => undefined)
    },
    remove(key) {
      if (page === key) page = undefined
      return transact<void>((store) => {
        const request = store.get(name)
        request.onsuccess = () => request.result?.id === key?.id && store.delete(name)
        return request
      }, 'readwrite').catch(() => undefined)
    },
  }
}
