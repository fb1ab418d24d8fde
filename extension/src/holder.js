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

/** What the page may learn about the card in the reader (no PIN, no certificate bytes). */
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
  };
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
