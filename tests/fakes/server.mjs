// Test doubles for Gatehouse's OAuth black-box tests, all on 127.0.0.1 with
// random ports, in one process so they share one registry of issued tokens:
//
//  - auth:    a real OAuth2 authorization server (npm oauth2-mock-server,
//             which checks PKCE), configured through its event hooks to
//             demand PKCE S256, issue opaque provider-style tokens
//             (ghu_/ghr_ for the GitHub client, ya29./1// for Google), make
//             refresh tokens single-use and rotating (GitHub) or long-lived
//             (Google), and answer a spent GitHub refresh token the way
//             GitHub does (HTTP 200, error bad_refresh_token).
//  - github:  the few GitHub REST endpoints the tools use, plus GitHub's
//             device flow, written from docs.github.com (paths, headers,
//             status codes, x-ratelimit-* headers, bearer check).
//  - gmail:   the few Gmail API v1 endpoints the tools use, written from
//             developers.google.com/gmail/api (bearer check, 429 + Retry-After).
//  - control: test-only knobs and counters (JSON over HTTP).
//
// Prints one JSON line {auth, github, gmail, control} when ready; exits when
// stdin closes, so a test that dies never leaves it running.
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { OAuth2Server, Events } from 'oauth2-mock-server';

const GH_CLIENT = /^gh/;          // client ids starting with "gh" are GitHub's
const rand = (n) => randomBytes(n).toString('hex');
const now = () => Date.now();

const state = {
  access: new Map(),          // token -> {provider, expires_ms}
  refresh: new Map(),         // token -> {provider, client}
  codes: new Set(),           // authorization codes issued with an S256 challenge
  code_scopes: new Map(),     // code -> the scope its authorization request asked for
  used_codes: new Set(),
  issued: [],                 // every token string issued (tests grep for them)
  stats: { code_requests: 0, refresh_requests: 0, refresh_rejected: 0, device_requests: 0, revocations: 0 },
  config: {
    expires_in_queue: [],     // expires_in for the next grants, then default_expires_in
    default_expires_in: 3600,
    reject_refresh: false,    // every refresh token is refused
    garbage_next_token: false,
    github_rate_limit_next: 0, // next N GitHub calls get 403 + x-ratelimit-remaining: 0
    github_secondary_next: 0,  // next N GitHub calls get 429 + retry-after
    gmail_rate_limit_next: 0,  // next N Gmail calls get 429 + Retry-After
    github_error_next: 0,      // next N GitHub calls get 502
    github_reject_tokens: false, // every GitHub API call gets 401, whatever the token (the grant was revoked)
  },
  device: new Map(),          // device_code -> {user_code, approved, client, polls, scope}
  requests: [],               // {service, method, path, traceparent, authorized}
  issues: new Map(),          // "owner/repo#n" -> issue
  comments: new Map(),        // "owner/repo#n" -> [comment]
  sent: [], drafts: [],
};

function provider(client) { return GH_CLIENT.test(client || '') ? 'github' : 'google'; }

function issue(provider, withRefresh) {
  const gh = provider === 'github';
  const access = gh ? `ghu_${rand(18)}` : `ya29.${rand(24)}`;
  const expires_in = state.config.expires_in_queue.length ? state.config.expires_in_queue.shift() : state.config.default_expires_in;
  state.access.set(access, { provider, expires_ms: now() + expires_in * 1000 });
  state.issued.push(access);
  const out = { access_token: access, token_type: 'bearer', expires_in };
  if (withRefresh) {
    const refresh = gh ? `ghr_${rand(30)}` : `1//${rand(30)}`;
    state.refresh.set(refresh, { provider });
    state.issued.push(refresh);
    out.refresh_token = refresh;
  }
  return out;
}

// ---- the authorization server ------------------------------------------------
const auth = new OAuth2Server();
await auth.issuer.keys.generate('RS256');
auth.service.on(Events.BeforeAuthorizeRedirect, (redirect, req) => {
  const q = new URL(req.url, 'http://x').searchParams;
  const code = redirect.url.searchParams.get('code');
  if (q.get('code_challenge_method') !== 'S256' || !q.get('code_challenge')) {
    redirect.url.searchParams.delete('code');
    redirect.url.searchParams.set('error', 'invalid_request');
    redirect.url.searchParams.set('error_description', 'PKCE with S256 is required');
  } else if (code) {
    state.codes.add(code);
    state.code_scopes.set(code, q.get('scope'));
  }
});
auth.service.on(Events.BeforeResponse, (resp, req) => {
  const b = req.body || {};
  const client = b.client_id;
  const p = provider(client);
  if (resp.statusCode !== 200) return;
  if (state.config.garbage_next_token) {
    state.config.garbage_next_token = false;
    resp.body = '<html><body>Service temporarily unavailable</body></html>';
    return;
  }
  if (b.grant_type === 'authorization_code') {
    state.stats.code_requests++;
    if (!state.codes.has(b.code) || state.used_codes.has(b.code) || !b.code_verifier) {
      resp.statusCode = 400;
      resp.body = { error: 'invalid_grant', error_description: 'unknown, reused or PKCE-less code' };
      return;
    }
    state.used_codes.add(b.code);
    // GitHub answers with its comma-separated scopes; Google with the space-separated ones granted.
    const asked = state.code_scopes.get(b.code);
    resp.body = { ...issue(p, true), scope: b.scope || (p === 'github' ? 'repo,notifications' : asked || resp.body.scope) };
  } else if (b.grant_type === 'refresh_token') {
    state.stats.refresh_requests++;
    record('auth', req, true);
    const known = state.refresh.get(b.refresh_token);
    if (!known || state.config.reject_refresh) {
      state.stats.refresh_rejected++;
      if (p === 'github') { // GitHub answers 200 with an error field
        resp.statusCode = 200;
        resp.body = { error: 'bad_refresh_token', error_description: 'The refresh token passed is incorrect or expired.' };
      } else {
        resp.statusCode = 400;
        resp.body = { error: 'invalid_grant', error_description: 'Token has been expired or revoked.' };
      }
      return;
    }
    if (p === 'github') { // single-use, rotating
      state.refresh.delete(b.refresh_token);
      resp.body = issue(p, true);
    } else {              // Google keeps the refresh token and sends none back
      resp.body = issue(p, false);
    }
  }
});
auth.service.on(Events.BeforeRevoke, (resp, req) => {
  state.stats.revocations++;
});
await auth.start(0, '127.0.0.1');
const authUrl = `http://127.0.0.1:${auth.address().port}`;

// ---- shared HTTP helpers -----------------------------------------------------
function readBody(req) {
  return new Promise((resolve) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
  });
}
function send(res, status, body, headers = {}) {
  const text = body === undefined ? '' : JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', ...headers });
  res.end(text);
}
function bearer(req, want) {
  const m = /^Bearer (.+)$/i.exec(req.headers.authorization || '');
  const t = m && state.access.get(m[1]);
  return !!(t && t.provider === want && t.expires_ms > now());
}
function record(service, req, authorized) {
  state.requests.push({ service, method: req.method, path: req.url.split('?')[0], traceparent: req.headers.traceparent || null, tracestate: req.headers.tracestate || null, authorized });
}
async function serve(handler) {
  const s = http.createServer(async (req, res) => {
    try { await handler(req, res); } catch (e) { send(res, 500, { message: String(e) }); }
  });
  await new Promise((r) => s.listen(0, '127.0.0.1', r));
  return { server: s, url: `http://127.0.0.1:${s.address().port}` };
}

// ---- GitHub --------------------------------------------------------------------
function seedGithub() {
  const put = (repo, n, title, extra = {}) => state.issues.set(`${repo}#${n}`, {
    number: n, title, state: 'open', body: `Body of ${title}. ` + 'x'.repeat(extra.long ? 6000 : 10),
    user: { login: 'octocat' }, labels: [{ name: 'bug' }], comments: 0, created_at: '2026-11-01T10:00:00Z',
    updated_at: '2026-11-02T10:00:00Z', html_url: `https://github.com/${repo}/issues/${n}`,
    repository_url: `https://api.github.com/repos/${repo}`, ...(extra.pr ? { pull_request: { url: 'x' } } : {}),
  });
  put('acme/rocket', 1, 'Crash on launch');
  put('acme/rocket', 2, 'Crash on landing', { long: true });
  put('acme/rocket', 3, 'Fix crash handler', { pr: true });
  const cs = [];
  for (let i = 1; i <= 25; i++) cs.push({ id: 1000 + i, user: { login: 'hubot' }, created_at: '2026-11-03T10:00:00Z', body: `comment ${i}` });
  state.comments.set('acme/rocket#1', cs);
  state.issues.get('acme/rocket#1').comments = cs.length;
}
seedGithub();

function ghRateHeaders(remaining = 4999) {
  return { 'x-ratelimit-limit': '5000', 'x-ratelimit-remaining': String(remaining), 'x-ratelimit-used': String(5000 - remaining),
    'x-ratelimit-reset': String(Math.floor(now() / 1000) + 3600), 'x-ratelimit-resource': 'core', 'x-github-api-version-selected': '2022-11-28' };
}
const gh = await serve(async (req, res) => {
  const url = new URL(req.url, 'http://x');
  const path = url.pathname;
  // Device flow (https://docs.github.com/en/apps/oauth-apps/building-oauth-apps/authorizing-oauth-apps#device-flow)
  if (req.method === 'POST' && path === '/login/device/code') {
    const form = new URLSearchParams(await readBody(req));
    state.stats.device_requests++;
    const device_code = rand(20);
    const user_code = `${rand(2).toUpperCase()}-${rand(2).toUpperCase()}`;
    state.device.set(device_code, { user_code, approved: false, denied: false, client: form.get('client_id'), polls: 0, scope: form.get('scope') });
    return send(res, 200, { device_code, user_code, verification_uri: `${gh.url}/login/device`, expires_in: 900, interval: 1 });
  }
  if (req.method === 'POST' && path === '/login/oauth/access_token') {
    const form = new URLSearchParams(await readBody(req));
    const d = state.device.get(form.get('device_code'));
    if (form.get('grant_type') !== 'urn:ietf:params:oauth:grant-type:device_code') return send(res, 200, { error: 'unsupported_grant_type' });
    if (!d || d.client !== form.get('client_id')) return send(res, 200, { error: 'incorrect_device_code', error_description: 'The device_code provided is not valid.' });
    d.polls++;
    if (d.polls === 1) return send(res, 200, { error: 'slow_down', error_description: 'Too many requests.', interval: 1 });
    if (d.denied) return send(res, 200, { error: 'access_denied', error_description: 'The authorization request was denied.' });
    if (!d.approved) return send(res, 200, { error: 'authorization_pending', error_description: 'The authorization request is still pending.' });
    state.device.delete(form.get('device_code'));
    return send(res, 200, { ...issue('github', true), scope: d.scope ? d.scope.split(' ').join(',') : '' });
  }
  // The REST API: every request needs a valid GitHub bearer token.
  const ok = bearer(req, 'github') && !state.config.github_reject_tokens;
  record('github', req, ok);
  if (!ok) return send(res, 401, { message: 'Bad credentials', documentation_url: 'https://docs.github.com/rest', status: '401' });
  if (state.config.github_rate_limit_next > 0) {
    state.config.github_rate_limit_next--;
    return send(res, 403, { message: 'API rate limit exceeded for user ID 1.', documentation_url: 'https://docs.github.com/rest/overview/rate-limits-for-the-rest-api' },
      { ...ghRateHeaders(0), 'x-ratelimit-reset': String(Math.floor(now() / 1000) + 120) });
  }
  if (state.config.github_secondary_next > 0) {
    state.config.github_secondary_next--;
    return send(res, 429, { message: 'You have exceeded a secondary rate limit.' }, { ...ghRateHeaders(), 'retry-after': '42' });
  }
  if (state.config.github_error_next > 0) {
    state.config.github_error_next--;
    return send(res, 502, { message: 'Server Error' }, ghRateHeaders());
  }
  const h = ghRateHeaders();
  const q = url.searchParams;
  const page = Math.max(1, Number(q.get('page') || 1));
  const per = Math.min(100, Math.max(1, Number(q.get('per_page') || 30)));
  let m;
  if (req.method === 'GET' && path === '/user') return send(res, 200, { login: 'octocat', id: 1, type: 'User' }, h);
  if (req.method === 'GET' && path === '/search/issues') {
    if (!q.get('q')) return send(res, 422, { message: 'Validation Failed', errors: [{ resource: 'Search', field: 'q', code: 'missing' }] }, h);
    const words = q.get('q').split(/\s+/).filter((w) => !w.includes(':')).map((w) => w.toLowerCase());
    const all = [...state.issues.values()].filter((i) => words.every((w) => i.title.toLowerCase().includes(w)));
    return send(res, 200, { total_count: all.length, incomplete_results: false, items: all.slice((page - 1) * per, page * per) }, h);
  }
  if ((m = /^\/repos\/([^/]+)\/([^/]+)\/issues\/(\d+)$/.exec(path)) && req.method === 'GET') {
    const i = state.issues.get(`${m[1]}/${m[2]}#${m[3]}`);
    return i ? send(res, 200, i, h) : send(res, 404, { message: 'Not Found', documentation_url: 'https://docs.github.com/rest/issues/issues#get-an-issue', status: '404' }, h);
  }
  if ((m = /^\/repos\/([^/]+)\/([^/]+)\/issues\/(\d+)\/comments$/.exec(path))) {
    const key = `${m[1]}/${m[2]}#${m[3]}`;
    const i = state.issues.get(key);
    if (!i) return send(res, 404, { message: 'Not Found', status: '404' }, h);
    const cs = state.comments.get(key) || [];
    if (req.method === 'GET') return send(res, 200, cs.slice((page - 1) * per, page * per), h);
    const body = JSON.parse(await readBody(req) || '{}');
    if (!body.body) return send(res, 422, { message: 'Validation Failed' }, h);
    const c = { id: 5000 + cs.length, user: { login: 'octocat' }, body: body.body, created_at: new Date().toISOString(), html_url: `${i.html_url}#issuecomment-${5000 + cs.length}` };
    cs.push(c); state.comments.set(key, cs); i.comments = cs.length;
    return send(res, 201, c, h);
  }
  if ((m = /^\/repos\/([^/]+)\/([^/]+)\/issues$/.exec(path)) && req.method === 'POST') {
    const body = JSON.parse(await readBody(req) || '{}');
    if (!body.title) return send(res, 422, { message: 'Validation Failed', errors: [{ resource: 'Issue', field: 'title', code: 'missing_field' }] }, h);
    const repo = `${m[1]}/${m[2]}`;
    const n = 1 + [...state.issues.keys()].filter((k) => k.startsWith(repo + '#')).length;
    const i = { number: n, title: body.title, body: body.body || '', state: 'open', user: { login: 'octocat' }, labels: (body.labels || []).map((name) => ({ name })),
      comments: 0, html_url: `https://github.com/${repo}/issues/${n}`, repository_url: `https://api.github.com/repos/${repo}`, created_at: new Date().toISOString(), updated_at: new Date().toISOString() };
    state.issues.set(`${repo}#${n}`, i);
    return send(res, 201, i, h);
  }
  if (req.method === 'GET' && path === '/notifications') {
    const all = [1, 2, 3].map((k) => ({ id: String(k), reason: 'mention', unread: k !== 3, updated_at: '2026-11-20T10:00:00Z',
      subject: { title: `Notification ${k}`, type: 'Issue', url: 'x' }, repository: { full_name: 'acme/rocket' } }))
      .filter((t) => q.get('all') === 'true' || t.unread);
    return send(res, 200, all.slice((page - 1) * per, page * per), h);
  }
  return send(res, 404, { message: 'Not Found' }, h);
});

// ---- Gmail -------------------------------------------------------------------
const b64 = (s) => Buffer.from(s, 'utf8').toString('base64url');
const messages = [1, 2, 3].map((k) => ({
  id: `m${k}`, threadId: `t${k}`, labelIds: k === 1 ? ['INBOX', 'UNREAD'] : ['INBOX'], snippet: `Snippet ${k}`,
  payload: { mimeType: 'multipart/mixed', headers: [
    { name: 'From', value: `Sender ${k} <sender${k}@example.org>` }, { name: 'To', value: 'me@example.com' },
    { name: 'Subject', value: `Invoice ${k}` }, { name: 'Date', value: 'Fri, 20 Nov 2026 10:00:00 +0000' }],
    parts: [{ mimeType: 'text/plain', body: { size: 20, data: b64(`Hello, this is message ${k}.`) } },
            { mimeType: 'application/pdf', filename: `invoice-${k}.pdf`, body: { size: 12345, attachmentId: 'a1' } }] },
}));
const gmail = await serve(async (req, res) => {
  const url = new URL(req.url, 'http://x');
  const path = url.pathname;
  const ok = bearer(req, 'google');
  record('gmail', req, ok);
  if (!ok) return send(res, 401, { error: { code: 401, message: 'Request had invalid authentication credentials.', status: 'UNAUTHENTICATED' } }, { 'WWW-Authenticate': 'Bearer realm="https://accounts.google.com/"' });
  if (state.config.gmail_rate_limit_next > 0) {
    state.config.gmail_rate_limit_next--;
    return send(res, 429, { error: { code: 429, message: 'Too many concurrent requests for user', status: 'RESOURCE_EXHAUSTED' } }, { 'Retry-After': '7' });
  }
  const base = '/gmail/v1/users/me';
  const q = url.searchParams;
  let m;
  if (req.method === 'GET' && path === `${base}/profile`) return send(res, 200, { emailAddress: 'me@example.com', messagesTotal: 3, threadsTotal: 3, historyId: '1' });
  if (req.method === 'GET' && path === `${base}/messages`) {
    const n = Math.min(500, Number(q.get('maxResults') || 100));
    const start = Number(q.get('pageToken') || 0);
    const hits = messages.filter((x) => !q.get('q') || x.payload.headers.some((h) => h.value.toLowerCase().includes(q.get('q').toLowerCase())) || q.get('q') === 'in:inbox');
    const page = hits.slice(start, start + n).map((x) => ({ id: x.id, threadId: x.threadId }));
    const body = { messages: page, resultSizeEstimate: hits.length };
    if (start + n < hits.length) body.nextPageToken = String(start + n);
    return send(res, 200, page.length ? body : { resultSizeEstimate: 0 });
  }
  if ((m = new RegExp(`^${base}/messages/([^/]+)$`).exec(path)) && req.method === 'GET') {
    const x = messages.find((y) => y.id === decodeURIComponent(m[1]));
    if (!x) return send(res, 404, { error: { code: 404, message: 'Requested entity was not found.', status: 'NOT_FOUND' } });
    if (q.get('format') === 'metadata') {
      const want = q.getAll('metadataHeaders');
      return send(res, 200, { id: x.id, threadId: x.threadId, labelIds: x.labelIds, snippet: x.snippet, payload: { headers: x.payload.headers.filter((h) => want.includes(h.name)) } });
    }
    return send(res, 200, x);
  }
  const decodeRaw = (raw) => Buffer.from(raw || '', 'base64url').toString('utf8');
  if (req.method === 'POST' && path === `${base}/drafts`) {
    const body = JSON.parse(await readBody(req) || '{}');
    const text = decodeRaw(body.message && body.message.raw);
    if (!/^To: /m.test(text)) return send(res, 400, { error: { code: 400, message: 'Invalid To header', status: 'INVALID_ARGUMENT' } });
    const d = { id: `r-${rand(4)}`, message: { id: `d${state.drafts.length + 1}`, threadId: body.message.threadId || `t-new`, labelIds: ['DRAFT'] } };
    state.drafts.push(text);
    return send(res, 200, d);
  }
  if (req.method === 'POST' && path === `${base}/messages/send`) {
    const body = JSON.parse(await readBody(req) || '{}');
    const text = decodeRaw(body.raw);
    if (!/^To: /m.test(text)) return send(res, 400, { error: { code: 400, message: 'Invalid To header', status: 'INVALID_ARGUMENT' } });
    state.sent.push(text);
    return send(res, 200, { id: `s${state.sent.length}`, threadId: body.threadId || 't-new', labelIds: ['SENT'] });
  }
  return send(res, 404, { error: { code: 404, message: 'Not Found', status: 'NOT_FOUND' } });
});

// ---- control -----------------------------------------------------------------
const control = await serve(async (req, res) => {
  const path = new URL(req.url, 'http://x').pathname;
  if (req.method === 'GET' && path === '/state') {
    return send(res, 200, { stats: state.stats, issued: state.issued, requests: state.requests, sent: state.sent, drafts: state.drafts,
      live_refresh_tokens: state.refresh.size, pending_devices: [...state.device.values()].map((d) => d.user_code) });
  }
  if (req.method === 'POST' && path === '/config') {
    Object.assign(state.config, JSON.parse(await readBody(req) || '{}'));
    return send(res, 200, state.config);
  }
  if (req.method === 'POST' && path === '/device/approve') {
    const { deny } = JSON.parse(await readBody(req) || '{}');
    let n = 0;
    for (const d of state.device.values()) { if (deny) d.denied = true; else d.approved = true; n++; }
    return send(res, 200, { approved: n });
  }
  if (req.method === 'POST' && path === '/expire_access_tokens') {
    for (const t of state.access.values()) t.expires_ms = 0;
    return send(res, 200, {});
  }
  return send(res, 404, {});
});

process.stdout.write(JSON.stringify({ auth: authUrl, github: gh.url, gmail: gmail.url, control: control.url }) + '\n');
process.stdin.resume();
process.stdin.on('end', () => process.exit(0));
process.stdin.on('close', () => process.exit(0));
