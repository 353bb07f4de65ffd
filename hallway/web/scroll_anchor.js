// The newest message stays in view when an image in the list loads: a thumbnail has no
// height until it arrives, so a list scrolled to the bottom would otherwise end up above the
// bottom by the image's height, hiding the newest message.

/** `nearBottom()`: whether the scroller is at (or near) the bottom right now. */
export function keepBottomOnImageLoad(scroller, list, nearBottom) {
  // Whether the list was at the bottom before the image grew it (a scroll event sets it;
  // content growing below does not fire one).
  let atBottom = true;
  scroller.addEventListener("scroll", () => {
    atBottom = nearBottom();
  });
  // `load` does not bubble: listen while it goes down to the image.
  list.addEventListener(
    "load",
    (event) => {
      if (event.target instanceof HTMLImageElement && atBottom) {
        scroller.scrollTop = scroller.scrollHeight;
      }
    },
    true,
  );
}
