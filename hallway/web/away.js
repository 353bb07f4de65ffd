// Away: after some minutes without input in this tab (a setting kept in localStorage,
// "hallway.awayAfterMinutes", 10 by default) the tab tells the server its user is idle, and
// active again at the next input. The server calls the person away once every tab of
// theirs says so (docs/realtime.md, "Away"). A new socket starts active: after every
// (re)connect the tab says away again if it is.

const SETTING = "hallway.awayAfterMinutes";
const DEFAULT_MINUTES = 10;
const INPUTS = ["pointerdown", "pointermove", "keydown", "wheel", "touchstart", "focus"];

/** Minutes without input before this tab says its user is away. */
export function awayAfterMinutes() {
  const stored = Number(localStorage.getItem(SETTING));
  return Number.isFinite(stored) && stored > 0 ? stored : DEFAULT_MINUTES;
}

export class AwayWatch {
  constructor(realtime) {
    this.realtime = realtime;
    this.away = false;
    this.timer = null;
    const active = () => this.active();
    for (const name of INPUTS) window.addEventListener(name, active, { passive: true });
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "visible") this.active();
    });
    this.schedule();
  }

  schedule() {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.idle(), awayAfterMinutes() * 60_000);
  }

  idle() {
    this.away = true;
    this.realtime.send({ type: "presence.set", status: "away" });
  }

  active() {
    if (this.away) {
      this.away = false;
      this.realtime.send({ type: "presence.set", status: "active" });
    }
    this.schedule();
  }

  /** After every `ready`: the new socket starts active. */
  connected() {
    if (this.away) this.realtime.send({ type: "presence.set", status: "away" });
  }
}
