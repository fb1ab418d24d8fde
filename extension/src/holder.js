// How a card holder is named to a person, the same in the dialog, the popup and the tile.

const DOCTOR_TITLES = new Set(["médecin", "chirurgien-dentiste", "pharmacien", "medecin"]);

function capitalize(word) {
  return word.toLowerCase().replace(/(^|[\s'-])(\p{L})/gu, (m, sep, c) => sep + c.toUpperCase());
}

/** "Dr Jean DUPONT" for a physician, "Claire MARTIN" otherwise. */
export function displayName(holder) {
  if (!holder) return "";
  const given = holder.givenName ? capitalize(holder.givenName) : "";
  const family = (holder.familyName || "").toUpperCase();
  const name = [given, family].filter(Boolean).join(" ");
  const title = (holder.title || "").toLowerCase();
  return DOCTOR_TITLES.has(title) ? `Dr ${name}` : name;
}

/** "RPPS 99700367917", "ADELI 751234567", or the national id. */
export function identifier(holder) {
  if (!holder) return "";
  if (holder.idType === "RPPS" && holder.rpps) return `RPPS ${holder.rpps}`;
  if (holder.idType === "ADELI" && holder.adeli) return `ADELI ${holder.adeli}`;
  return holder.idNat || "";
}

const CARD_TYPES = new Set(["CPS", "CPF", "CPE", "CPA", "CDE"]);

/** The card's kind as the manual names it: "CPS", "CPE"…, "CPx" when it is not known
 *  (the host says UNKNOWN unless IT configured the policy OIDs). */
export function cardTypeName(cardType) {
  return CARD_TYPES.has(cardType) ? cardType : "CPx";
}

/** The card in the reader, for the extension's own pages (the popup): who it names. */
export function cardSummary(certificates) {
  if (!Array.isArray(certificates) || !certificates.length) return null;
  const first = certificates[0];
  return {
    holder: first.holder,
    displayName: displayName(first.holder),
    reader: first.reader ?? null,
    tokenLabel: first.tokenLabel ?? null,
    notAfter: first.notAfter ?? null,
    certificates: certificates.length,
    cardType: (first.holder && first.holder.cardType) || "UNKNOWN",
    pinStatus: (first.pin && first.pin.status) || null,
  };
}

/** What a page learns of that card without the user's consent: that one is there, of
 *  which kind, and whether it is blocked. Never who it names (idNat, RPPS, names), its
 *  label or its dates: a status is asked silently on page load, and any script of an
 *  allowed page (an injected one too) could read it. The holder is known to the site
 *  only from the signed token, after the person chose to log in (as with Web eID). */
export function pageCard(summary) {
  if (!summary) return null;
  return { cardType: summary.cardType, certificates: summary.certificates,
           pinStatus: summary.pinStatus };
}

/** A certificate as the dialog shows it (the DER stays in the background). */
export function certificateView(cert) {
  return {
    certificateId: cert.certificateId,
    tokenLabel: cert.tokenLabel ?? null,
    reader: cert.reader ?? null,
    holder: cert.holder,
    displayName: displayName(cert.holder),
    identifier: identifier(cert.holder),
    notBefore: cert.notBefore ?? null,
    notAfter: cert.notAfter ?? null,
    pin: cert.pin || {},
  };
}
