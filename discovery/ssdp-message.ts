/**
 * SSDP messages (UPnP Device Architecture 1.1 §1): HTTP-like text over UDP 1900.
 * NOTIFY (alive / byebye), M-SEARCH and its unicast "HTTP/1.1 200 OK" responses.
 */
export const SSDP_GROUP = '239.255.255.250'
export const SSDP_PORT = 1900

export interface SsdpMessage {
  /** 'NOTIFY', 'M-SEARCH' or 'RESPONSE'. */
  kind: 'NOTIFY' | 'M-SEARCH' | 'RESPONSE'
  /** Header names in lower case. */
  headers: Record<string, string>
}

/** Parses an SSDP datagram; null when it is not one (bounded: 64 headers, 8 KiB). */
export const parseSsdp = (buf: Buffer): SsdpMessage | null => {
  if (buf.length > 8192) return null
  const lines = buf.toString('latin1').split(/\r?\n/)
  const first = lines[0] ?? ''
  let kind: SsdpMessage['kind']
  if (/^NOTIFY \* HTTP\/1\.[01]$/i.test(first)) kind = 'NOTIFY'
  else if (/^M-SEARCH \* HTTP\/1\.[01]$/i.test(first)) kind = 'M-SEARCH'
  else if (/^HTTP\/1\.[01] 200/i.test(first)) kind = 'RESPONSE'
  else return null
  const headers: Record<string, string> = {}
  for (const line of lines.slice(1, 65)) {
    if (line === '') break
    const i = line.indexOf(':')
    if (i <= 0) continue
    headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim()
  }
  return { kind, headers }
}

export const formatSsdp = (startLine: string, headers: Array<[string, string]>): Buffer =>
  Buffer.from(`${startLine}\r\n${headers.map(([k, v]) => `${k}: ${v}`).join('\r\n')}\r\n\r\n`, 'latin1')

/** max-age of a CACHE-CONTROL header, in seconds (default 1800). */
export const maxAgeOf = (cacheControl: string | undefined): number => {
  const m = /max-age\s*=\s*(\d+)/i.exec(cacheControl ?? '')
  return m === null ? 1800 : Math.min(86_400, Number(m[1]))
}
