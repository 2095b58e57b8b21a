/**
 * The page's only link to the server: the loopback Discord server's page API (`/sandbox/...`, see
 * src/sandbox/discord/README.md) and the lineage routes the bot side adds (`/lineage`, `/images`).
 * Everything is same-origin, so no URLs are configured. The page API needs the per-run key that the
 * address printed at start carries (`/?key=…`): it is read from the address once, kept for this tab in
 * sessionStorage, taken out of the address bar, and sent with every request.
 */

/** A refusal from the server, with the text it gave (shown to the user as is). */
export class ApiError extends Error {}

const KEY_STORE = 'sandbox.key';
const KEY_HEADER = 'x-sandbox-key';

function takeKey() {
  const params = new URLSearchParams(location.search);
  const fromAddress = params.get('key');
  if (fromAddress) {
    sessionStorage.setItem(KEY_STORE, fromAddress);
    params.delete('key');
    const query = params.toString();
    history.replaceState(
      history.state,
      '',
      `${location.pathname}${query ? `?${query}` : ''}${location.hash}`,
    );
  }
  return fromAddress ?? sessionStorage.getItem(KEY_STORE) ?? '';
}

const key = takeKey();

const NO_KEY =
  'This page needs the address the sandbox printed when it started (it ends in ?key=…); ' +
  'a sandbox started again has a new one.';

async function post(path, body) {
  const response = await fetch(path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', [KEY_HEADER]: key },
    body: JSON.stringify(body),
  });
  if (response.status === 401 || response.status === 403) throw new ApiError(NO_KEY);
  const answer = await response.json().catch(() => ({}));
  if (!response.ok) throw new ApiError(answer.error ?? `${path} answered ${response.status}`);
  return answer;
}

export async function loadState() {
  const response = await fetch('/sandbox/state', { headers: { [KEY_HEADER]: key } });
  if (response.status === 401 || response.status === 403) throw new ApiError(NO_KEY);
  if (!response.ok) throw new ApiError(`The sandbox did not answer (${response.status}).`);
  return response.json();
}

/** Event stream from `after` on; EventSource reconnects by itself, resending Last-Event-ID. */
export function openEvents(after, onEvent, onStatus) {
  const types = [
    'message.create',
    'message.update',
    'message.delete',
    'interaction.create',
    'interaction.response',
    'interaction.failed',
    'modal.open',
    'commands.update',
  ];
  // Only what the page draws: the bot's REST traffic (api.request) would be most of the stream.
  // EventSource sends no custom headers, so the key goes in the query.
  const source = new EventSource(
    `/sandbox/events?after=${after}&types=${types.join(',')}&key=${encodeURIComponent(key)}`,
  );
  for (const type of types) source.addEventListener(type, (e) => onEvent(JSON.parse(e.data)));
  source.addEventListener('open', () => onStatus(true));
  source.addEventListener('error', () => onStatus(false));
  return source;
}

export const runCommand = (body) => post('/sandbox/commands', body);
export const pressButton = (body) => post('/sandbox/buttons', body);
export const chooseOption = (body) => post('/sandbox/selects', body);
export const submitModal = (body) => post('/sandbox/modals', body);

/** Uploads a File picked in the browser; the answer's id goes into a command as `{ upload: id }`. */
export async function uploadFile(file) {
  const bytes = new Uint8Array(await file.arrayBuffer());
  // btoa needs a binary string; build it in slices so large images do not overflow the call stack.
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return post('/sandbox/uploads', {
    filename: file.name,
    contentType: file.type || undefined,
    base64: btoa(binary),
  });
}

export async function loadLineage(jobId) {
  const response = await fetch(`/lineage/${encodeURIComponent(jobId)}`, { headers: { [KEY_HEADER]: key } });
  if (response.status === 401 || response.status === 403) throw new ApiError(NO_KEY);
  const answer = await response.json().catch(() => ({}));
  if (!response.ok) throw new ApiError(answer.error ?? `No lineage for ${jobId} (${response.status}).`);
  return answer;
}
