// The trusted dialog: an extension page in a window of its own (windows.create), never the
// site's DOM. The background pushes views (and notices, {notice}) to it over a runtime
// port; it sends back the user's choices (certificate, PIN, cancel).

export const DIALOG_PATH = "dialog/dialog.html";

export class DialogWindows {
  constructor(api) {
    this.api = api;
    this.byFlowId = new Map(); // flowId -> DialogWindow
  }

  create(flowId) {
    // A window kept open on its ending (« Délai dépassé », a blocked card) is over once the
    // person starts another login: closed, rather than left under the new one.
    for (const kept of [...this.byFlowId.values()]) {
      if (kept.flow && kept.flow.done) kept.close();
    }
    const w = new DialogWindow(this, flowId);
    this.byFlowId.set(flowId, w);
    return w;
  }

  /** A dialog page connected: `port.name` is "dialog", its first message names the flow. */
  accept(port) {
    const base = this.api.runtime.getURL(DIALOG_PATH);
    const url = (port.sender && port.sender.url) || "";
    if (!url.startsWith(base)) {
      port.disconnect();
      return;
    }
    const onHello = (msg) => {
      port.onMessage.removeListener(onHello);
      const w = msg && msg.type === "hello" ? this.byFlowId.get(msg.flowId) : undefined;
      if (!w || w.port) {
        port.postMessage({ view: "gone" });
        return;
      }
      w.attach(port);
    };
    port.onMessage.addListener(onHello);
  }

  windowRemoved(windowId) {
    for (const w of this.byFlowId.values()) {
      if (w.windowId === windowId) w.removed();
    }
  }
}

class DialogWindow {
  constructor(owner, flowId) {
    this.owner = owner;
    this.flowId = flowId;
    this.windowId = null;
    this.port = null;
    this.view = null;
    this.notice = null;
    this.flow = null;
    this.closed = false;
  }

  async open(flow) {
    this.flow = flow;
    const api = this.owner.api;
    const url = api.runtime.getURL(`${DIALOG_PATH}?flow=${encodeURIComponent(this.flowId)}`);
    const win = await api.windows.create({ url, type: "popup", width: 480, height: 640,
                                            focused: true });
    this.windowId = win.id;
    if (this.closed) this.close();
  }

  attach(port) {
    this.port = port;
    port.onMessage.addListener((msg) => {
      if (this.flow) this.flow.onDialogMessage(msg);
    });
    port.onDisconnect.addListener(() => {
      if (this.port === port) this.port = null;
    });
    if (this.view) port.postMessage(this.view);
    if (this.notice) port.postMessage(this.notice);
  }

  show(view) {
    this.view = view;
    if (this.port) this.port.postMessage(view);
  }

  /** A line beside the view (« Il vous reste 1 minute… »): the view is not drawn again. */
  notify(notice) {
    this.notice = notice;
    if (this.port) this.port.postMessage(notice);
  }

  /** To the front: a page asked for a login while this one goes on, and the person is shown
   *  the dialog already asking rather than left wondering why no window opened. */
  focus() {
    if (this.windowId === null) return; // not created yet (it opens focused), or closed
    this.owner.api.windows.update(this.windowId, { focused: true }).catch(() => {
      // closed meanwhile: windows.onRemoved ends its login
    });
  }

  close() {
    this.closed = true;
    this.owner.byFlowId.delete(this.flowId);
    if (this.windowId !== null) {
      this.owner.api.windows.remove(this.windowId).catch(() => {});
      this.windowId = null;
    }
  }

  removed() {
    this.windowId = null;
    this.owner.byFlowId.delete(this.flowId);
    if (this.flow) this.flow.onWindowClosed();
  }
}
