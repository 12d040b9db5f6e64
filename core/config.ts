/**
 * YAML config loading with schema validation. Every error names the file, line, column
 * and field: "hub.yaml:7:12 rooms.friday.subnet: expected a CIDR like 10.77.0.0/24".
 */
import { readFileSync } from 'node:fs'
import { LineCounter, parseDocument, isNode } from 'yaml'
import type { z } from 'zod'
import { didYouMean } from './cli-support.js'
import { OverlanError, errnoCode } from './errors.js'

export interface ConfigProblem {
  line: number
  col: number
  field: string
  message: string
}

const formatProblems = (file: string, problems: ConfigProblem[]): string =>
  problems.map(p => `${file}:${p.line}:${p.col} ${p.field === '' ? '(top level)' : p.field}: ${p.message}`).join('\n')

/** Parses and validates YAML text. Throws CONFIG_INVALID listing every problem found. */
export const parseConfig = <S extends z.ZodType>(text: string, file: string, schema: S): z.infer<S> => {
  const lineCounter = new LineCounter()
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: false })
  if (doc.errors.length > 0) {
    const problems = doc.errors.map(e => {
      const pos = lineCounter.linePos(e.pos[0])
      return { line: pos.line, col: pos.col, field: '', message: e.message.split('\n')[0] ?? e.code }
    })
    throw new OverlanError('CONFIG_INVALID', formatProblems(file, problems))
  }
  const data: unknown = doc.toJS() ?? {}
  const result = schema.safeParse(data)
  if (result.success) return result.data
  const problems: ConfigProblem[] = result.error.issues.map(issue => {
    const path = issue.path.map(p => (typeof p === 'symbol' ? String(p) : p))
    // Unknown keys are reported on their parent; point at the first unknown key itself.
    const keys = issue.code === 'unrecognized_keys' ? issue.keys : []
    let node: unknown = doc.getIn(path, true)
    let message = issue.message
    if (keys.length > 0) {
      node = findKeyNode(doc, path, keys[0]!)
      message = `unknown field${keys.length > 1 ? 's' : ''}${didYouMean(keys[0]!, knownKeys(schema, path))}`
    } else if (issue.code === 'invalid_key' && path.length > 0) {
      // A bad map key (e.g. a room name): point at the key, say what keys must look like.
      node = findKeyNode(doc, path.slice(0, -1), String(path[path.length - 1]))
      message = issue.issues[0]?.message ?? message
    }
    const start = isNode(node) && node.range !== undefined && node.range !== null ? node.range[0] : findKeyOffset(doc, path)
    const pos = lineCounter.linePos(start)
    return {
      line: pos.line,
      col: pos.col,
      field: path.join('.') + (keys.length > 0 ? (path.length > 0 ? '.' : '') + keys.join(', ') : ''),
      message
    }
  })
  throw new OverlanError('CONFIG_INVALID', formatProblems(file, problems))
}

/** The field names a (zod 4) schema accepts at `path`, best effort; [] where it cannot tell. */
const knownKeys = (schema: unknown, path: ReadonlyArray<string | number>): string[] => {
  let s = schema as { shape?: Record<string, unknown>, _zod?: { def?: Record<string, unknown> } } | undefined
  const unwrap = (): void => {
    for (let i = 0; i < 8 && s?._zod?.def !== undefined && s.shape === undefined; i++) {
      const d = s._zod.def
      const next = (d.innerType ?? d.in ?? d.schema) as typeof s | undefined
      if (next === undefined) return
      s = next
    }
  }
  for (const seg of path) {
    unwrap()
    if (s?.shape !== undefined && typeof seg === 'string' && seg in s.shape) { s = s.shape[seg] as typeof s; continue }
    const d = s?._zod?.def
    s = (d?.valueType ?? d?.element) as typeof s | undefined
  }
  unwrap()
  return s?.shape !== undefined ? Object.keys(s.shape) : []
}

/** Position of the key node (not the value) of `parent.key`. */
const findKeyNode = (doc: ReturnType<typeof parseDocument>, parent: (string | number)[], key: string): unknown => {
  const map = parent.length === 0 ? doc.contents : doc.getIn(parent, true)
  const items = (map as { items?: Array<{ key: unknown }> } | null)?.items
  const pair = items?.find(p => isNode(p.key) && (p.key as { value?: unknown }).value === key)
  return pair?.key
}

/** Offset of the deepest existing node on `path` (a missing field is reported at its parent). */
const findKeyOffset = (doc: ReturnType<typeof parseDocument>, path: (string | number)[]): number => {
  for (let i = path.length; i >= 0; i--) {
    const node = i === 0 ? doc.contents : doc.getIn(path.slice(0, i), true)
    if (isNode(node) && node.range !== undefined && node.range !== null) return node.range[0]
  }
  return 0
}

/** Reads and validates a config file. */
export const loadConfigFile = <S extends z.ZodType>(file: string, schema: S): z.infer<S> => {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (e) {
    const code = errnoCode(e)
    throw new OverlanError(code === 'ENOENT' ? 'CONFIG_NOT_FOUND' : 'CONFIG_INVALID',
      `cannot read config file ${file}: ${code ?? (e as Error).message}`, { cause: e })
  }
  return parseConfig(text, file, schema)
}

/** The fields of `o` that are not undefined (for "CLI wins over file" merges). */
export const definedFields = <T extends object>(o: T): { [K in keyof T]?: Exclude<T[K], undefined> } =>
  Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as { [K in keyof T]?: Exclude<T[K], undefined> }
