// A small DOM for node: enough of one to run the extension's own pages (dialog/dialog.js,
// popup/popup.js) on their real HTML, with the WebExtension API they use faked. Not a
// browser: it has no layout, no CSS and no accessibility tree; what it checks is the
// markup, the texts, where the focus goes and what the page sends. tests/browser/ runs
// the same pages in Chromium and Firefox.
import { readFileSync } from "node:fs";
import { FakeEvent } from "./fakes.mjs";
import { translator } from "../dialog/view-model.js";

const VOID = new Set(["meta", "link", "input", "br", "img", "wbr"]);

class Element {
  constructor(doc, tag) {
    this.ownerDocument = doc;
    this.tagName = tag.toUpperCase();
    this.attributes = new Map();
    this.childNodes = []; // Elements and strings (text)
    this.parentNode = null;
    this.listeners = {};
    this.value = "";
  }
  get id() { return this.getAttribute("id") || ""; }
  get children() { return this.childNodes.filter((c) => c instanceof Element); }
  getAttribute(name) { return this.attributes.has(name) ? this.attributes.get(name) : null; }
  hasAttribute(name) { return this.attributes.has(name); }
  setAttribute(name, value) { this.attributes.set(name, String(value)); }
  removeAttribute(name) { this.attributes.delete(name); }
  get textContent() {
    return this.childNodes.map((c) => (typeof c === "string" ? c : c.textContent)).join("");
  }
  set textContent(text) {
    this._detachAll();
    const s = String(text ?? "");
    if (s) this.childNodes.push(s);
  }
  _detachAll() {
    for (const c of this.childNodes) if (c instanceof Element) c.parentNode = null;
    this.childNodes = [];
  }
  _adopt(node) {
    if (typeof node !== "string" && !(node instanceof Element)) node = String(node);
    if (node instanceof Element && node.parentNode) {
      const siblings = node.parentNode.childNodes;
      siblings.splice(siblings.indexOf(node), 1);
    }
    if (node instanceof Element) node.parentNode = this;
    return node;
  }
  append(...nodes) { for (const n of nodes) this.childNodes.push(this._adopt(n)); }
  prepend(...nodes) { this.childNodes.unshift(...nodes.map((n) => this._adopt(n))); }
  replaceChildren(...nodes) {
    this._detachAll();
    this.append(...nodes);
  }
  get isConnected() {
    let n = this;
    while (n.parentNode) n = n.parentNode;
    return n === this.ownerDocument.documentElement;
  }
  addEventListener(type, fn) { (this.listeners[type] ??= []).push(fn); }
  dispatch(type, init = {}) {
    const event = { type, target: this, defaultPrevented: false,
                    preventDefault() { this.defaultPrevented = true; }, ...init };
    for (const fn of this.listeners[type] ?? []) fn(event);
    return event;
  }
  focus() { if (this.isConnected) this.ownerDocument._active = this; }
  click() {
    this.dispatch("click");
    // A submit button submits its form, as a browser does.
    if (this.tagName === "BUTTON" && this.getAttribute("type") === "submit") {
      let form = this.parentNode;
      while (form && form.tagName !== "FORM") form = form.parentNode;
      if (form) form.dispatch("submit");
    }
  }
  *descendants() {
    for (const c of this.children) {
      yield c;
      yield* c.descendants();
    }
  }
  querySelectorAll(selector) { return [...this.descendants()].filter((e) => matches(e, selector)); }
  querySelector(selector) { return this.querySelectorAll(selector)[0] ?? null; }
}

/** Selectors of one simple part: tag, #id, .class, [attr], [attr="value"], combined. */
function matches(el, selector) {
  const re = /^([a-z0-9]*)((?:#[\w-]+|\.[\w-]+|\[[\w-]+(?:="[^"]*")?\])*)$/i;
  const m = re.exec(selector.trim());
  if (!m) throw new Error(`selector not supported by the DOM double: ${selector}`);
  if (m[1] && el.tagName !== m[1].toUpperCase()) return false;
  for (const [part] of m[2].matchAll(/#[\w-]+|\.[\w-]+|\[[\w-]+(?:="[^"]*")?\]/g)) {
    if (part[0] === "#" && el.id !== part.slice(1)) return false;
    if (part[0] === "." && !(el.getAttribute("class") || "").split(/\s+/).includes(part.slice(1))) return false;
    if (part[0] === "[") {
      const [, name, value] = /^\[([\w-]+)(?:="([^"]*)")?\]$/.exec(part);
      if (!el.hasAttribute(name) || (value !== undefined && el.getAttribute(name) !== value)) return false;
    }
  }
  return true;
}

class Document {
  constructor() {
    this.documentElement = new Element(this, "html");
    this.head = new Element(this, "head");
    this.body = new Element(this, "body");
    this.documentElement.append(this.head, this.body);
    this.listeners = {};
    this.title = "";
    this._active = null;
  }
  get activeElement() { return this._active && this._active.isConnected ? this._active : this.body; }
  createElement(tag) { return new Element(this, tag); }
  getElementById(id) { return [...this.documentElement.descendants()].find((e) => e.id === id) ?? null; }
  querySelector(s) { return this.documentElement.querySelector(s); }
  querySelectorAll(s) { return this.documentElement.querySelectorAll(s); }
  addEventListener(type, fn) { (this.listeners[type] ??= []).push(fn); }
  dispatch(type, init = {}) {
    for (const fn of this.listeners[type] ?? []) fn({ type, ...init });
  }
}

/** The body of a page's real HTML file, parsed (simple, well-formed markup only). */
function parseInto(doc, html) {
  const body = /<body>([\s\S]*)<\/body>/.exec(html)[1].replace(/<!--[\s\S]*?-->/g, "");
  const lang = /<html[^>]*\blang="([^"]*)"/.exec(html);
  if (lang) doc.documentElement.setAttribute("lang", lang[1]);
  let node = doc.body;
  for (const [, close, tag, attrs, text] of body.matchAll(/<(\/?)([a-z0-9]+)([^>]*)>|([^<]+)/gi)) {
    if (text !== undefined) {
      if (text.trim()) node.append(text);
    } else if (close) {
      node = node.parentNode;
    } else {
      const el = doc.createElement(tag);
      for (const [, name, value] of attrs.matchAll(/([\w-]+)(?:="([^"]*)")?/g)) el.setAttribute(name, value ?? "");
      node.append(el);
      if (!VOID.has(tag.toLowerCase())) node = el;
    }
  }
}

const root = new URL("../", import.meta.url);
const localeOf = (lang) => JSON.parse(readFileSync(new URL(`_locales/${lang}/messages.json`, root), "utf-8"));
let loads = 0;

/** Loads one of the extension's pages (`dialog/dialog.html` + `dialog/dialog.js`) in a new
 *  document, with the API a page of the extension gets: `runtime.connect` (the port's other
 *  end is `page.port`: what the page posts lands in `page.sent`, `page.port.deliver(msg)`
 *  is the background posting), `runtime.sendMessage` answered by `onSendMessage`, i18n in
 *  `uiLanguage`. Resolves once the page's first task (its catalogs) has run. */
export async function loadPage(html, script, { uiLanguage = "fr-FR", search = "", onSendMessage } = {}) {
  const doc = new Document();
  parseInto(doc, readFileSync(new URL(html, root), "utf-8"));
  const page = { document: doc, sent: [], closed: false, port: null };
  // The browser's own catalog: its UI language's, French otherwise (the default locale).
  const catalog = translator(localeOf(uiLanguage.toLowerCase().startsWith("en") ? "en" : "fr"));
  const api = {
    i18n: { getUILanguage: () => uiLanguage,
            getMessage: (key, subs) => { const m = catalog(key, subs); return m === key ? "" : m; } },
    runtime: {
      getURL: (path) => `chrome-extension://test/${path}`,
      connect: ({ name } = {}) => {
        const port = { name, onMessage: new FakeEvent(), onDisconnect: new FakeEvent(),
                       postMessage: (msg) => page.sent.push(structuredClone(msg)),
                       deliver: (msg) => port.onMessage.emit(structuredClone(msg)),
                       disconnect: () => port.onDisconnect.emit(port) };
        page.port = port;
        return port;
      },
      sendMessage: async (msg) => onSendMessage(msg),
    },
  };
  Object.assign(globalThis, {
    document: doc,
    location: { search },
    window: { close: () => { page.closed = true; } },
    chrome: api,
    fetch: async (url) => {
      const lang = /_locales\/(\w+)\/messages\.json$/.exec(url)[1];
      return { json: async () => localeOf(lang) };
    },
  });
  loads += 1;
  await import(new URL(`${script}?load=${loads}`, root).href);
  await new Promise((r) => setTimeout(r, 0));
  page.$ = (selector) => doc.querySelector(selector);
  page.text = (selector) => (doc.querySelector(selector) || { textContent: null }).textContent;
  return page;
}

/** Types `text` into an input as a person does: the value changes, then "input" fires. */
export function type(input, text) {
  input.value += text;
  input.dispatch("input");
}
