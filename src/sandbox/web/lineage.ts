/**
 * The sandbox page's two routes into the bot's Redis, served on the loopback Discord server's origin
 * through its `onRequest` hook (the loopback server knows messages, not jobs):
 *
 *   GET /lineage/:jobId        the job and its ancestors (parents over up to 12 generations) as JSON
 *   GET /images/:jobId/:slot   a stored PNG: slot 0-3 or `grid` of a job, or `upload` for an uploaded image
 *
 * Read-only: the page draws an image's family tree from this; every change still goes through Discord.
 * `/lineage` is page API: it needs the page key like `/sandbox/*` (the server says whether the request
 * carries it). `/images` answers without the key, as `/cdn` does: `<img>` sends no headers, and a job id
 * is only learnt from a message or a lineage answer.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { fileURLToPath } from 'node:url';
import type { Redis } from 'ioredis';
import type { JobKind } from '../../jobs/kinds.js';
import type { ParentRole } from '../../jobs/spec.js';
import { connectCommands } from '../../store/connection.js';
import { openStores, type Stores } from '../../store/index.js';
import type { JobRecord, JobStatus } from '../../store/job-records.js';

/** How far back the walk goes; a long chain of variations is cut here rather than sent whole. */
export const MAX_GENERATIONS = 12;
/** Upper bound on nodes in one answer, whatever the shape of the graph (blends fan out). */
const MAX_NODES = 200;

const ID = '[a-z0-9]{12}';
const LINEAGE_ROUTE = new RegExp(`^/lineage/(${ID})$`);
const IMAGE_ROUTE = new RegExp(`^/images/(${ID})/([0-3]|grid|upload)$`);
/** The internal image references job descriptions carry (see src/store/image-store.ts). */
const UPLOAD_REF = new RegExp(`^upload:(${ID})$`);
const JOB_IMAGE_REF = new RegExp(`^job:(${ID})/([0-3])$`);

/** An edge to an earlier image: which job, which of its four images (null: the whole job), and how. */
export interface LineageEdge {
  jobId: string;
  index: number | null;
  role: ParentRole;
}

export interface LineageNode {
  jobId: string;
  /** A job's kind, `upload` for an image a user gave /blend or a prompt link, `expired` once it is gone. */
  kind: JobKind | 'upload' | 'expired';
  prompt: string;
  seed: number | null;
  status: JobStatus | 'expired';
  /** Which grid image an upscale shows. */
  index?: number;
  /** How many generations above the asked-for job (0 for that job). */
  generation: number;
  parents: LineageEdge[];
  /** Where the page loads the picture: the grid, the single image of an upscale, or the upload. */
  image: string | null;
}

export interface Lineage {
  root: string;
  nodes: LineageNode[];
  /** True when the walk stopped at MAX_GENERATIONS or MAX_NODES with ancestors left. */
  truncated: boolean;
}

/** What a node's picture is: the grid for a four-image job, image 0 for an upscale. */
function imagePath(record: JobRecord): string | null {
  if (record.status !== 'done') return null;
  return record.kind === 'upscale' ? `/images/${record.id}/0` : `/images/${record.id}/grid`;
}

/** The text a person typed, or the text parts of a prompt a button made. */
function promptText(record: JobRecord): string {
  const d = record.description;
  if (d.prompt) return d.prompt;
  return d.prompts
    .flatMap((p) => (p.kind === 'text' ? [p.text] : []))
    .join(' :: ')
    .trim();
}

/**
 * Parents of a record, as edges, and which of them are uploads. Recorded parents come first; image
 * prompts that point at uploads (the images of a /blend, or fetched prompt links) become edges to
 * `upload` nodes, so a blend shows what it was blended from, unless the upload was recognised as an
 * image the bot made: then the edge goes to that job (and slot), and the tree goes on through it.
 */
function edgesOf(record: JobRecord): { edges: LineageEdge[]; uploads: Set<string> } {
  const uploads = new Set<string>();
  const edges: LineageEdge[] = record.description.parents.map((p) => ({
    jobId: p.jobId,
    index: p.index,
    role: p.role,
  }));
  // Upscales, rerolls and variations copy their parent's description, image prompts included: those
  // belong to the ancestor that was typed (or blended), and are reached through the recorded parents.
  if (record.kind !== 'imagine' && record.kind !== 'blend') return { edges, uploads };
  const seen = new Set(edges.map((e) => `${e.jobId}/${e.index}`));
  for (const prompt of record.description.prompts) {
    if (prompt.kind !== 'image') continue;
    const ref = record.inputs?.[prompt.url] ?? prompt.url;
    const upload = UPLOAD_REF.exec(ref);
    const job = JOB_IMAGE_REF.exec(ref);
    const origin = record.origins?.[prompt.url];
    const role = record.kind === 'blend' ? 'blend' : 'image-prompt';
    const edge: LineageEdge | null = origin
      ? { jobId: origin.jobId, index: origin.index, role }
      : upload
        ? { jobId: upload[1]!, index: null, role }
        : job
          ? { jobId: job[1]!, index: Number(job[2]), role: 'image-prompt' }
          : null;
    if (!edge) continue;
    if (upload && !origin) uploads.add(edge.jobId);
    // A prompt naming the same image twice is one edge.
    const key = `${edge.jobId}/${edge.index}`;
    if (seen.has(key) || (job && seen.has(`${edge.jobId}/null`))) continue;
    seen.add(key);
    edges.push(edge);
  }
  return { edges, uploads };
}

/** Walks from `jobId` up through its parents, breadth first; null when the job itself is unknown. */
export async function readLineage(stores: Pick<Stores, 'records'>, jobId: string): Promise<Lineage | null> {
  const first = await stores.records.get(jobId);
  if (!first) return null;
  const nodes = new Map<string, LineageNode>();
  const uploads = new Set<string>();
  let frontier: Array<{ id: string; record: JobRecord | null }> = [{ id: jobId, record: first }];
  let truncated = false;

  for (let generation = 0; frontier.length > 0; generation++) {
    if (generation > MAX_GENERATIONS || nodes.size >= MAX_NODES) {
      truncated = true;
      break;
    }
    const next = new Set<string>();
    for (const { id, record } of frontier) {
      if (nodes.has(id) || nodes.size >= MAX_NODES) continue;
      if (uploads.has(id)) {
        nodes.set(id, {
          jobId: id,
          kind: 'upload',
          prompt: '',
          seed: null,
          status: 'done',
          generation,
          parents: [],
          image: `/images/${id}/upload`,
        });
        continue;
      }
      if (!record) {
        nodes.set(id, {
          jobId: id,
          kind: 'expired',
          prompt: '',
          seed: null,
          status: 'expired',
          generation,
          parents: [],
          image: null,
        });
        continue;
      }
      const { edges: parents, uploads: uploaded } = edgesOf(record);
      for (const id of uploaded) uploads.add(id);
      for (const edge of parents) if (!nodes.has(edge.jobId)) next.add(edge.jobId);
      nodes.set(id, {
        jobId: id,
        kind: record.kind,
        prompt: promptText(record),
        seed: record.description.params.seed,
        status: record.status,
        ...(record.index !== undefined ? { index: record.index } : {}),
        generation,
        parents,
        image: imagePath(record),
      });
    }
    frontier = await Promise.all(
      [...next].map(async (id) => ({ id, record: uploads.has(id) ? null : await stores.records.get(id) })),
    );
  }
  return { root: jobId, nodes: [...nodes.values()], truncated };
}

/** The `onRequest` hook: answers the two routes above and returns false for everything else. */
export function lineageRoutes(
  stores: Pick<Stores, 'records' | 'images'>,
): (req: IncomingMessage, res: ServerResponse, url: URL, page: { authorized: boolean }) => Promise<boolean> {
  return async (req, res, url, page) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return false;
    const lineage = LINEAGE_ROUTE.exec(url.pathname);
    const image = IMAGE_ROUTE.exec(url.pathname);
    if (!lineage && !image) return false;
    if (lineage && !page.authorized) {
      send(res, 401, 'application/json', JSON.stringify({ error: 'the lineage needs the page key' }));
      return true;
    }
    try {
      if (lineage) {
        const found = await readLineage(stores, lineage[1]!);
        if (!found)
          send(res, 404, 'application/json', JSON.stringify({ error: 'no such job (it may have expired)' }));
        else send(res, 200, 'application/json', JSON.stringify(found));
        return true;
      }
      const [, id, slot] = image!;
      const png =
        slot === 'upload'
          ? await stores.images.resolve(`upload:${id}`)
          : await stores.images.getJobImage(id!, slot!);
      if (!png)
        send(res, 404, 'application/json', JSON.stringify({ error: 'no such image (it may have expired)' }));
      // Stored images never change under one key, so the browser may keep them.
      else send(res, 200, 'image/png', png, 'private, max-age=3600');
    } catch (error) {
      // Redis away: say so instead of leaving the page's request hanging.
      send(res, 503, 'application/json', JSON.stringify({ error: (error as Error).message }));
    }
    return true;
  };
}

function send(
  res: ServerResponse,
  status: number,
  type: string,
  body: string | Buffer,
  cache = 'no-cache',
): void {
  res
    .writeHead(status, {
      'content-type': type,
      'content-length': Buffer.byteLength(body),
      'cache-control': cache,
    })
    .end(res.req.method === 'HEAD' ? undefined : body);
}

/** The folder of the page's static files (kept apart from this server-side code). */
export const PAGE_DIR = fileURLToPath(new URL('./public/', import.meta.url));

/**
 * Everything `npm start` needs to serve the page: the static folder, the lineage hook on its own Redis
 * connection (the bot's connection belongs to the bot), and a close for shutdown.
 */
export function sandboxPage(
  redisUrl: string,
  ttlSeconds: number,
): {
  staticDir: string;
  onRequest: ReturnType<typeof lineageRoutes>;
  close: () => Promise<void>;
} {
  const redis: Redis = connectCommands(redisUrl);
  return {
    staticDir: PAGE_DIR,
    onRequest: lineageRoutes(openStores(redis, ttlSeconds)),
    close: async () => {
      redis.disconnect();
    },
  };
}
