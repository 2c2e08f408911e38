// Buttons that take each other's place in one row (self-service: 下一步, 拍摄 and 重试): the
// second tap of a quick double tap (or a held Enter key) reached the button shown after the
// first one, which skipped a step unread or took a still before the card was held up. A button
// is taken only once it has been on screen DOUBLE_TAP_MS, and never by a tap counted as the
// second of a double tap. It is truly disabled until then (not only aria-disabled): a click on
// it is then dropped by the browser itself, and test drivers and assistive tools that wait for
// an enabled button (Playwright, Selenium's element_to_be_clickable) all see the same state.

const DOUBLE_TAP_MS = 500;
let pressedByKey = false; // the last press was Enter/Space: keep the keyboard's place
const arming = new Map(); // button -> its timer (a step run again shows it anew)

/** Show a button and resolve when it is pressed (then hide it again), or as soon as the
 * promise `until` (if given) settles: the way on came by itself. */
export function pressed(button, until = null) {
  button.hidden = false;
  button.disabled = true;
  clearTimeout(arming.get(button));
  arming.set(
    button,
    setTimeout(() => {
      button.disabled = false;
      // The pressed button was hidden, so focus fell to the page: give it to the one in its place.
      if (pressedByKey && (!document.activeElement || document.activeElement === document.body)) button.focus();
    }, DOUBLE_TAP_MS),
  );
  return new Promise((resolve) => {
    const done = () => {
      button.removeEventListener("click", onClick);
      button.hidden = true;
      resolve();
    };
    const onClick = (event) => {
      if (event.detail > 1 || button.disabled) return;
      pressedByKey = event.detail === 0;
      done();
    };
    button.addEventListener("click", onClick);
    if (until) until.then(done, done);
  });
}
