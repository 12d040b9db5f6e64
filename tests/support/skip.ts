/**
 * A file whose tests cannot run here says why as one skipped test (TAP "# SKIP"), so the
 * summary counts it as skipped with its reason, never as a pass.
 */
import test from 'ava'

export const skipWithReason = (what: string, why: string): void => {
  test.skip(`${what} skipped: ${why}`, () => {})
}
