// What the toolbar popup shows: versions, host state, readers, card.
import { CpsError, pageError } from "./cps-error.js";

export async function popupStatus(router, native, lang = "fr") {
  const status = await router.status(lang);
  const host = status.host;
  return {
    extension: status.extension,
    host: host ? { version: host.version, protocol: host.protocol } : null,
    hostError: status.hostError ?? null,
    readers: host && host.pcsc && Array.isArray(host.pcsc.readers) ? host.pcsc.readers : [],
    pcscError: host && host.pcsc && host.pcsc.available === false && host.pcsc.error
      ? pageError(new CpsError(host.pcsc.error), lang) : null,
    pkcs11: host && host.pkcs11 ? host.pkcs11 : null,
    card: status.card ?? null,
    port: native.state,
  };
}
