/**
 * The sliding replay window of the direct path's receivers (RFC 6479's bitmap, 2048 packets
 * as WireGuard keeps): a counter is accepted once, in any order within the window behind the
 * highest seen (at least WINDOW - 31 of them); older ones and repeats are refused. Counters past REJECT_AFTER_MESSAGES are
 * refused: the session must be rekeyed long before (transport.ts).
 */
export const WINDOW = 2048
/** Far below 2^53 (exact in a JS number) and 2^64; sessions rekey after REKEY_AFTER_MESSAGES. */
export const REJECT_AFTER_MESSAGES = 2 ** 48
export const REKEY_AFTER_MESSAGES = 2 ** 46

const WORDS = WINDOW / 32

export class ReplayWindow {
  private readonly bits = new Uint32Array(WORDS)
  /** Highest counter accepted; -1 before the first. */
  last = -1

  /** Accepts `counter` (marking it seen) or refuses it: too old, a repeat, or out of range. */
  accept (counter: number): boolean {
    if (!Number.isInteger(counter) || counter < 0 || counter >= REJECT_AFTER_MESSAGES) return false
    const top = Math.floor(this.last / 32) // the word holding `last` (-1 before the first)
    const cw = Math.floor(counter / 32)
    if (counter > this.last) {
      // Clear the words the window slides onto: those after `top`, up to the counter's (at most all).
      for (let w = top + 1; w <= cw && w - top <= WORDS; w++) this.bits[w % WORDS] = 0
      this.last = counter
    } else if (top - cw >= WORDS) {
      return false // behind the window
    }
    const w = cw % WORDS
    const bit = 1 << (counter % 32)
    if ((this.bits[w]! & bit) !== 0) return false
    this.bits[w] = this.bits[w]! | bit
    return true
  }
}
