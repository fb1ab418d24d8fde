// The toolbar popup: extension version, host state, readers, card.
import { pickLang } from "../src/cps-error.js";
import { BUILD } from "../src/build-info.js";
import { cardTypeName } from "../src/holder.js";

const api = globalThis.browser ?? globalThis.chrome;
const t = (key, subs) => api.i18n.getMessage(key, subs) || key;
const lang = pickLang(api.i18n.getUILanguage());
document.documentElement.lang = lang;

function item(dl, term, ...values) {
  const dt = document.createElement("dt");
  dt.textContent = term;
  const dd = document.createElement("dd");
  for (const v of values) dd.append(v);
  dl.append(dt, dd);
}

// What the card's ATR says (§4 cardType), in words: « (CPS3) » or « (VITALE) » meant
// nothing to a person, and a Carte Vitale in the reader is a common mistake.
const READER_CARDS = { "CPS3": "popupReaderCPS3", "CPS3-contactless": "popupReaderCPS3Contactless",
                       "CPS4": "popupReaderCPS4", "VITALE": "popupReaderVitale",
                       "UNKNOWN": "popupReaderUnknown" };

function readerCard(cardType) {
  return t(READER_CARDS[cardType] || "popupCardPresent");
}

async function show() {
  const loading = document.getElementById("loading");
  loading.textContent = t("popupLoading");
  const s = await api.runtime.sendMessage({ type: "popup-status", lang });
  loading.textContent = "";
  const dl = document.getElementById("facts");
  dl.replaceChildren();
  item(dl, t("popupExtension"), s.extension + (BUILD.dev ? ` (${t("popupDev")})` : ""));
  item(dl, t("popupHost"), s.host ? t("popupHostReady", [s.host.version, String(s.host.protocol)])
                                  : "—");
  const readers = document.createElement("ul");
  for (const r of s.readers) {
    const li = document.createElement("li");
    li.textContent = `${r.name} — ${r.cardPresent ? readerCard(r.cardType) : t("popupEmpty")}`;
    readers.append(li);
  }
  item(dl, t("popupReaders"), s.readers.length ? readers : t("popupNoReader"));
  // Who the card names and its kind (« Carte CPS »), not the token's label (« CPS3v3-… »).
  item(dl, t("popupCard"), s.card ? `${s.card.displayName} — ${t("cardType", [cardTypeName(s.card.cardType)])}`
                                  : t("popupNoCard"));
  const problem = s.hostError || s.pcscError;
  document.getElementById("alert").textContent = problem ? problem.message : "";
}

show().catch((err) => {
  document.getElementById("alert").textContent = String(err && err.message || err);
});
