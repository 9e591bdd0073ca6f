import type { Clock, TimerHandle } from '../clock.js'
import { DEV } from '../dev.js'
import { AuthError } from '../errors.js'
import type { DpopKey } from './proof.js'

/**
 * Where the origin's DPoP keys live, newest last, under the storage key (two clients of a page
 * keep apart). The newest is the last login's; the others are sessions' the client has not ended
 * yet (a login that then failed, a session another replaced before its revocation settled).
 */
export interface KeyStore {
  /**
   * The newest key; undefined when there is none, or no IndexedDB.
   * @throws {AuthError} `storage` when IndexedDB fails or does not answer in time: the key may be there.
   */
  load(): Promise<DpopKey | undefined>
  /**
   * Stores `key` as the newest, for the other tabs and a reload. Resolves without IndexedDB.
   * @throws {AuthError} `storage` when IndexedDB fails or does not answer in time.
   */
  save(key: DpopKey): Promise<void>
  /** Drops `key` (its session ended), wherever it stands: the one before becomes the newest again. Never rejects. */
  remove(key: DpopKey | undefined): Promise<void>
}

const STORE = 'keys'

/** The keys a stored value holds: anything else (another version's record, junk) holds none. */
const keysOf = (value: unknown): DpopKey[] =>
  (Array.isArray(value) ? value : []).filter((key: DpopKey | null) => key?.privateKey?.type === 'private' && typeof key.id === 'string')

/**
 * The keys in IndexedDB, so every tab of the origin and a reload use the same one (a CryptoKey is
 * stored as it is, its private half still unexportable). Every call settles within `timeoutMs`.
 */
export function keyStore(name: string, clock: Clock, timeoutMs: number): KeyStore {
  /**
   * Runs one transaction on a connection of its own (one that failed or hangs is not kept, so the
   * next call starts afresh): reads the stored keys and, when `change` is given, writes what it
   * makes of them. Resolves with the keys read, once committed; rejects with `storage`.
   */
  const transact = (change?: (keys: DpopKey[]) => DpopKey[]): Promise<DpopKey[]> => {
    let timer: TimerHandle
    let transaction: IDBTransaction | undefined | null
    return Promise.race([
      new Promise<DpopKey[]>((resolve, reject) => {
        const open = indexedDB.open('tokenkeeper-dpop', 1)
        open.onupgradeneeded = () => open.result.createObjectStore(STORE)
        open.onerror = reject
        open.onsuccess = () => {
          // Given up on already (null): a write must not land after its caller was told it failed.
          if (transaction === null) return open.result.close()
          transaction = open.result.transaction(STORE, change ? 'readwrite' : 'readonly')
          const store = transaction.objectStore(STORE)
          const request = store.get(name)
          request.onsuccess = () => change && store.put(change(keysOf(request.result)), name)
          transaction.oncomplete = () => resolve(keysOf(request.result))
          transaction.onabort = reject // an error aborts it too
          open.result.close() // once the transaction is done
        }
      }),
      new Promise<never>((_, reject) => {
        timer = clock.setTimeout(() => {
          try {
            transaction?.abort()
          } catch {
            // committing already: too late to stop
          }
          transaction = null
          reject()
        }, timeoutMs)
      }),
    ])
      .catch((cause) => {
        throw new AuthError('storage', DEV ? 'dpop: IndexedDB failed or did not answer; the DPoP key may be there' : '', { cause })
      })
      .finally(() => clock.clearTimeout(timer))
  }
  const without = (key: DpopKey) => (keys: DpopKey[]) => keys.filter(({ id }) => id !== key.id)

  return {
    load: async () => (globalThis.indexedDB ? (await transact()).pop() : undefined),
    // A few keys at most: sessions the client has not ended linger only until it does.
    save: async (key) => void (globalThis.indexedDB && (await transact((keys) => [...without(key)(keys), key].slice(-4)))),
    remove: async (key) => void (key && (await transact(without(key)).catch(() => undefined))),
  }
}
