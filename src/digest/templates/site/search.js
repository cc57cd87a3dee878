// The search page's script (digest.site.search writes it into the site's pagefind/ folder as
// digest-search.js). It asks Pagefind's own library in that folder, fetches nothing from another host, and
// ranks papers the way a reader expects: the papers that contain the query itself first.
//
// Chinese is indexed one character per word (see digest/site/search.py), so a Chinese term is asked for as
// the quoted phrase of its characters, which Pagefind answers with exactly the papers containing the string.
// A looser search (every character or word, anywhere) supplies the order and the papers that only share
// characters; those come after, under a line that says so.

const HAN = "\\u3400-\\u4dbf\\u4e00-\\u9fff\\uf900-\\ufaff";
const BETWEEN_HAN = new RegExp(`(?<=[${HAN}])(?=[${HAN}])`, "gu");
const HAN_CHAR = new RegExp(`[${HAN}]`, "u");
const HAN_CHARS = new RegExp(`[${HAN}]`, "gu");
const ARXIV_ID = /^(?:arxiv:)?(\d{4}\.\d{4,5})(?:v\d+)?$/i;
const WORD_BREAK = /\u200b/g;
const PAGE_SIZE = 10;
const TOPIC_FILTER = "主题";

/** The query as the index spells it: Chinese characters one word each. */
export function indexForm(text) {
  return text.replace(BETWEEN_HAN, " ");
}

/** Index text as a reader sees it (Pagefind keeps zero-width spaces in metadata and filter names). */
export function plain(text) {
  return String(text ?? "").replace(WORD_BREAK, "");
}

/** The typed query: its text, its whitespace-separated terms, and the arXiv id (no version) it names, if any. */
export function parseQuery(raw) {
  const text = String(raw ?? "").replace(/["“”„「」『』]/g, " ").replace(/\s+/g, " ").trim();
  const terms = text ? text.split(" ") : [];
  const id = terms.length === 1 ? (ARXIV_ID.exec(terms[0]) || [])[1] || "" : "";
  return { text: id || text, terms: id ? [id] : terms, id };
}

async function exactIds(pagefind, phrase, filters) {
  const found = await pagefind.search(`"${indexForm(phrase)}"`, { filters });
  return new Set(found.results.map((r) => r.id));
}

/**
 * Search and rank: `{exact, partial}`, lists of Pagefind results. `exact` holds the papers containing the
 * whole query (then those containing every term), in Pagefind's order; an arXiv id's own paper comes first.
 */
export async function rankedSearch(pagefind, raw, filters = {}) {
  const query = parseQuery(raw);
  if (!query.text) {
    const all = await pagefind.search(null, { filters });
    return { query, exact: all.results, partial: [] };
  }
  const loose = await pagefind.search(indexForm(query.text), { filters });
  const whole = await exactIds(pagefind, query.text, filters);
  let every = null;
  if (query.terms.length > 1) {
    for (const term of query.terms) {
      const ids = await exactIds(pagefind, term, filters);
      every = every ? new Set([...every].filter((id) => ids.has(id))) : ids;
    }
  }
  const tiers = [[], [], []];
  const seen = new Set();
  for (const r of loose.results) {
    seen.add(r.id);
    tiers[whole.has(r.id) ? 0 : every && every.has(r.id) ? 1 : 2].push(r);
  }
  // The loose search is the wider one, but do not lose a paper only the phrase search found.
  const missing = [...whole].filter((id) => !seen.has(id));
  if (missing.length) {
    const found = await pagefind.search(`"${indexForm(query.text)}"`, { filters });
    tiers[0].push(...found.results.filter((r) => missing.includes(r.id)));
  }
  const exact = [...tiers[0], ...tiers[1]];
  if (query.id) await ownPaperFirst(exact, query.id);
  return { query, exact, partial: tiers[2] };
}

async function ownPaperFirst(results, id) {
  // Few papers quote an id; read those few to find the one whose page it is.
  for (const [i, r] of results.slice(0, 20).entries()) {
    const data = await r.data();
    if (plain(data.meta?.id) === id || data.url.includes(`/papers/${id}/`)) {
      results.splice(i, 1);
      results.unshift(r);
      return;
    }
  }
}

function hanShare(text) {
  return (text.match(HAN_CHARS) || []).length / Math.max(1, text.length);
}

function findAll(haystack, needle) {
  const at = [];
  if (!needle) return at;
  for (let i = haystack.indexOf(needle); i >= 0; i = haystack.indexOf(needle, i + needle.length)) at.push(i);
  return at;
}

// Start a snippet at the sentence the match is in, not in the heading or topic list before it.
function sentenceStart(text, at, reach) {
  const from = Math.max(0, at - reach);
  const before = text.slice(from, at);
  const end = Math.max(...["。", "！", "？", "；", ". "].map((mark) => {
    const i = before.lastIndexOf(mark);
    return i < 0 ? -1 : i + mark.length;
  }));
  return end >= 0 ? from + end : from;
}

/**
 * A snippet of `content` around the query: pieces `{text, mark}`. `shown` (title, Chinese title, topics) is
 * left out when the content opens with it. Prefers an occurrence inside Chinese prose over one in the id
 * line; without any, starts where the Chinese text starts.
 */
export function snippet(content, query, shown = [], width = 96) {
  let text = plain(content).replace(/\s+/g, " ");
  for (const part of shown.map(plain).filter(Boolean)) {
    const at = text.indexOf(part);
    if (at >= 0 && at < 400) text = text.slice(0, at) + text.slice(at + part.length);
  }
  const lower = text.toLowerCase();
  const needles = [query.text, ...query.terms].map((n) => n.toLowerCase()).filter(Boolean);
  const hits = needles.flatMap((n) => findAll(lower, n)).sort((a, b) => a - b);
  const inProse = (i) => hanShare(text.slice(Math.max(0, i - 30), i + 30)) > 0.4;
  let at = hits.find(inProse) ?? hits[0];
  if (at === undefined) {
    // no match to show: the first Chinese sentence (the abstract), not the metadata before it
    at = 0;
    for (let i = 0; i < text.length; i += 10) {
      if (hanShare(text.slice(i, i + 40)) > 0.6) {
        at = i + Math.max(0, text.slice(i).search(HAN_CHAR));
        break;
      }
    }
  }
  const start = sentenceStart(text, at, Math.floor(width / 3));
  const end = Math.min(text.length, start + width);
  const window = text.slice(start, end);
  const marks = needles.flatMap((n) => findAll(window.toLowerCase(), n).map((i) => [i, i + n.length]));
  marks.sort((a, b) => a[0] - b[0]);
  const pieces = [];
  let pos = 0;
  for (const [from, to] of marks) {
    if (from < pos) continue;
    if (from > pos) pieces.push({ text: window.slice(pos, from), mark: false });
    pieces.push({ text: window.slice(from, to), mark: true });
    pos = to;
  }
  if (pos < window.length) pieces.push({ text: window.slice(pos), mark: false });
  if (start > 0) pieces.unshift({ text: "…", mark: false });
  if (end < text.length) pieces.push({ text: "…", mark: false });
  return pieces;
}

// ------------------------------------------------------------------ the page

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "text") node.textContent = v;
    else node.setAttribute(k, v);
  }
  for (const child of children) if (child) node.append(child);
  return node;
}

function renderResult(data, query) {
  const meta = data.meta || {};
  const title = plain(meta.title) || data.url;
  const item = el("li", { class: "search-result" });
  item.append(el("h2", { class: "result-title" }, el("a", { href: data.url, text: title })));
  if (meta.title_zh) item.append(el("p", { class: "result-title-zh", lang: "zh-CN", text: plain(meta.title_zh) }));
  const line = el("p", { class: "result-meta" });
  if (meta.date) line.append(el("time", { datetime: plain(meta.date), text: plain(meta.date) }));
  for (const topic of (data.filters || {})[TOPIC_FILTER] || []) line.append(el("span", { class: "topic", text: plain(topic) }));
  if (meta.id) line.append(el("span", { class: "result-id", text: `arXiv:${plain(meta.id)}` }));
  item.append(line);
  const excerpt = el("p", { class: "result-snippet" });
  const shown = [meta.title, meta.title_zh, ...((data.filters || {})[TOPIC_FILTER] || [])];
  for (const piece of snippet(data.content, query, shown)) {
    excerpt.append(piece.mark ? el("mark", { text: piece.text }) : document.createTextNode(piece.text));
  }
  item.append(excerpt);
  return item;
}

class SearchPage {
  constructor(root, box, pagefind) {
    this.root = root;
    this.box = box;
    this.pagefind = pagefind;
    this.chosen = new Set();
    this.serial = 0;
    this.input = el("input", {
      type: "search", name: "q", class: "search-input", "aria-label": "搜索论文",
      placeholder: "搜索标题、中文术语、作者或 arXiv 编号", autocomplete: "off",
    });
    const form = el("form", { class: "search-form", role: "search" }, this.input);
    form.addEventListener("submit", (e) => { e.preventDefault(); this.run(); });
    this.filters = el("div", { class: "search-filters", role: "group", "aria-label": TOPIC_FILTER });
    this.count = el("p", { class: "search-count", "aria-live": "polite" });
    this.list = el("ol", { class: "search-results" });
    this.more = el("button", { type: "button", class: "search-more", text: "显示更多" });
    this.more.hidden = true;
    this.more.addEventListener("click", () => this.showMore());
    box.replaceChildren(form, this.filters, this.count, this.list, this.more);
    let timer = null;
    this.input.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(() => this.run(), 250); });
  }

  async showFilters() {
    const topics = (await this.pagefind.filters())[TOPIC_FILTER] || {};
    const names = Object.keys(topics).sort((a, b) => topics[b] - topics[a]);
    this.filters.replaceChildren(...names.map((name) => {
      const chip = el("button", { type: "button", class: "topic filter-chip", "aria-pressed": "false" },
        el("span", { text: plain(name) }), el("span", { class: "filter-count", text: String(topics[name]) }));
      chip.addEventListener("click", () => {
        if (this.chosen.has(name)) this.chosen.delete(name); else this.chosen.add(name);
        chip.setAttribute("aria-pressed", String(this.chosen.has(name)));
        this.run();
      });
      return chip;
    }));
  }

  keepInUrl(text) {
    const url = new URL(window.location.href);
    if (text) url.searchParams.set("q", text); else url.searchParams.delete("q");
    window.history.replaceState(null, "", url.toString());
  }

  async run() {
    const serial = ++this.serial;
    const raw = this.input.value;
    this.keepInUrl(raw.trim());
    const filters = this.chosen.size ? { [TOPIC_FILTER]: { any: [...this.chosen] } } : {};
    if (!raw.trim() && !this.chosen.size) {
      this.count.textContent = "";
      this.list.replaceChildren();
      this.more.hidden = true;
      return;
    }
    const found = await rankedSearch(this.pagefind, raw, filters);
    if (serial !== this.serial) return; // a newer query is on its way
    this.found = found;
    this.shown = 0;
    this.list.replaceChildren();
    this.count.textContent = countLine(found);
    await this.showMore();
  }

  async showMore() {
    const { exact, partial, query } = this.found;
    const all = [...exact, ...partial];
    const batch = all.slice(this.shown, this.shown + PAGE_SIZE);
    const serial = this.serial;
    const datas = await Promise.all(batch.map((r) => r.data()));
    if (serial !== this.serial) return;
    datas.forEach((data, i) => {
      if (this.shown + i === exact.length && exact.length && partial.length) {
        this.list.append(el("li", { class: "search-divider", text: `以下 ${partial.length} 篇只含其中的字词，不含完整的“${query.text}”` }));
      }
      this.list.append(renderResult(data, query));
    });
    this.shown += batch.length;
    this.more.hidden = this.shown >= all.length;
  }
}

/** The line above the results: the number of papers, and whether they contain the whole query. */
export function countLine({ query, exact, partial }) {
  if (!query.text) return `找到 ${exact.length} 篇论文`;
  if (exact.length) return `找到 ${exact.length} 篇论文`;
  if (partial.length) return `找到 ${partial.length} 篇论文（都不含完整的“${query.text}”，只含其中的字词）`;
  return `没有找到与“${query.text}”相关的论文`;
}

/**
 * Pagefind with every part of the index merged in (digest/site/search.py writes one part per quarter and lists
 * them, newest first, in parts.json). `load(folder)` imports the library from a part's folder, relative to
 * `bundle`; result URLs start with `rootUrl`.
 */
export async function openIndex(load, bundle, rootUrl) {
  const listed = await fetch(new URL("parts.json", bundle), { cache: "no-cache" });
  const { parts } = await listed.json();
  if (!parts.length) return null;
  const folder = (part) => new URL(`${part}/`, bundle).href;
  const pagefind = await load(`${parts[0]}/`);
  await pagefind.options({ basePath: folder(parts[0]), baseUrl: rootUrl, excerptLength: 40 });
  await pagefind.init();
  await Promise.all(parts.slice(1).map((part) => pagefind.mergeIndex(folder(part), { baseUrl: rootUrl })));
  return pagefind;
}

async function start() {
  const box = document.getElementById("search");
  if (!box) return;
  const bundle = new URL(".", import.meta.url);
  const root = new URL("..", bundle);
  let pagefind;
  try {
    pagefind = await openIndex((folder) => import(new URL(`${folder}pagefind.js`, bundle).href), bundle, root.pathname);
  } catch (err) {
    box.textContent = "搜索索引无法载入（运行 digest build 生成索引，并通过网页服务器打开本站）。";
    return;
  }
  if (!pagefind) {
    box.textContent = "本站还没有可搜索的论文。";
    box.dataset.ready = "true";
    return;
  }
  const page = new SearchPage(root, box, pagefind);
  page.showFilters().catch(() => {});
  const q = new URLSearchParams(window.location.search).get("q");
  if (q) {
    page.input.value = q;
    await page.run();
  }
  page.input.focus();
  box.dataset.ready = "true";
}

if (typeof document !== "undefined") start();
