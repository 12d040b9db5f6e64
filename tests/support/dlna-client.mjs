// What a DLNA player does, as a test tool: SSDP M-SEARCH for a MediaServer from BIND_IP (a
// player sends on each of its interfaces), fetch the device description, browse the
// ContentDirectory (UPnP ContentDirectory:1 Browse) for an item titled TITLE, and stream it.
// Prints one JSON line: server name, timings, bytes and SHA-256 of what was streamed.
//   node dlna-client.mjs BIND_IP TITLE [SEARCH_MS]
import { createHash } from 'node:crypto'
import dgram from 'node:dgram'

const [bindIp, title, searchMs = '3000'] = process.argv.slice(2)
const ST = 'urn:schemas-upnp-org:device:MediaServer:1'
const CDS = 'urn:schemas-upnp-org:service:ContentDirectory:1'
const fail = (why) => { console.error(why); process.exit(1) }
setTimeout(() => fail('timed out'), 60_000).unref()

const msearch = () => new Promise((resolve, reject) => {
  const s = dgram.createSocket({ type: 'udp4', reuseAddr: true })
  const timer = setTimeout(() => { s.close(); reject(new Error(`no ${ST} answered M-SEARCH in ${searchMs} ms`)) }, Number(searchMs))
  s.on('message', (msg) => {
    const text = msg.toString()
    const location = /^location:\s*(\S+)/im.exec(text)?.[1]
    if (/^st:\s*urn:schemas-upnp-org:device:MediaServer:1\s*$/im.test(text) && location !== undefined) {
      clearTimeout(timer); s.close(); resolve(location)
    }
  })
  s.bind(0, bindIp, () => {
    s.setMulticastInterface(bindIp)
    s.setMulticastTTL(2)
    s.send(`M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nMAN: "ssdp:discover"\r\nMX: 1\r\nST: ${ST}\r\n\r\n`, 1900, '239.255.255.250')
  })
})

const tag = (xml, name) => new RegExp(`<(?:\\w+:)?${name}[^>]*>([^<]*)</(?:\\w+:)?${name}>`).exec(xml)?.[1]
const unescape = (s) => s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&amp;/g, '&')

const browse = async (controlUrl, objectId) => {
  const body = '<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" s:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/"><s:Body>' +
    `<u:Browse xmlns:u="${CDS}"><ObjectID>${objectId}</ObjectID><BrowseFlag>BrowseDirectChildren</BrowseFlag><Filter>*</Filter>` +
    '<StartingIndex>0</StartingIndex><RequestedCount>200</RequestedCount><SortCriteria></SortCriteria></u:Browse></s:Body></s:Envelope>'
  const r = await fetch(controlUrl, { method: 'POST', body, headers: { 'content-type': 'text/xml; charset="utf-8"', soapaction: `"${CDS}#Browse"` } })
  if (!r.ok) throw new Error(`Browse ${objectId}: HTTP ${r.status}`)
  const didl = unescape(tag(await r.text(), 'Result') ?? '')
  const containers = [...didl.matchAll(/<container\s[^>]*\bid="([^"]+)"/g)].map(m => m[1])
  const items = [...didl.matchAll(/<item\s[\s\S]*?<\/item>/g)].map(m => ({ title: tag(m[0], 'title'), url: tag(m[0], 'res') }))
  return { containers, items }
}

const start = Date.now()
const location = await msearch().catch(e => fail(e.message))
const searchedMs = Date.now() - start
const description = await (await fetch(location)).text()
const friendlyName = tag(description, 'friendlyName')
const service = [...description.matchAll(/<service>[\s\S]*?<\/service>/g)].map(m => m[0]).find(s => s.includes(CDS))
if (service === undefined) fail(`no ContentDirectory in ${location}`)
const controlUrl = new URL(unescape(tag(service, 'controlURL')), location).href

// Breadth-first over the containers, bounded: a player shows folders, the user picks a file.
const queue = ['0']
let found
for (let requests = 0; queue.length > 0 && found === undefined && requests < 50; requests++) {
  const { containers, items } = await browse(controlUrl, queue.shift())
  found = items.find(i => i.title === title)
  queue.push(...containers)
}
if (found === undefined) fail(`no item titled ${title}`)

const streamStart = Date.now()
const res = await fetch(unescape(found.url))
if (!res.ok) fail(`stream: HTTP ${res.status}`)
const hash = createHash('sha256')
let bytes = 0
for await (const chunk of res.body) { hash.update(chunk); bytes += chunk.length }
const streamMs = Date.now() - streamStart
process.stdout.write(JSON.stringify({ server: friendlyName, location, searchMs: searchedMs, title: found.title, url: unescape(found.url), bytes, sha256: hash.digest('hex'), streamMs }) + '\n')
