/**
 * The file descriptor of a bound node:dgram socket, for the socket options Node does not offer
 * (IP_MTU_DISCOVER, SO_BINDTODEVICE). It sits on the socket's handle, read through dgram's state
 * symbol: the `_handle` getter warns (DEP0112) on every use. Null before bind or off Unix.
 */
export const dgramFd = (socket: object): number | null => {
  const state = Object.getOwnPropertySymbols(socket).find(s => s.description === 'state symbol')
  const fd = state !== undefined ? (socket as Record<symbol, { handle?: { fd?: number } } | undefined>)[state]?.handle?.fd : undefined
  return typeof fd === 'number' && fd >= 0 ? fd : null
}
