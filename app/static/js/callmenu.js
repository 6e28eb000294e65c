// A small menu of the call's controls (More, the host's Hang up): a popover that opens
// above its button, in the page's top layer (so no panel or stage clips it). The browser
// closes it on Escape and on a press elsewhere, and only one is open at a time; this module
// places it, says on the button whether it is open, moves the focus into it as it opens and
// back to the button as it closes (unless the person pressed something else meanwhile).

const FOCUSABLE = "button:not([hidden], :disabled), select:not(:disabled), input:not(:disabled), [tabindex='0']";
const GAP = 8; // px between the button and the menu, and the menu and the window's edge
const WIDTH = 352; // px, the CSS width of .call-menu (22rem), before it is first shown

/** Wire `menu` (an element with the popover attribute) to the `button` that opens it. */
export function attachMenu(button, menu, { onOpen } = {}) {
  function place() {
    const box = button.getBoundingClientRect();
    const width = Math.min(menu.offsetWidth || WIDTH, window.innerWidth - 2 * GAP);
    menu.style.bottom = `${Math.max(GAP, window.innerHeight - box.top + GAP)}px`;
    menu.style.maxHeight = `${Math.max(160, box.top - 2 * GAP)}px`;
    // Its right edge under the button's, unless that runs off the window's left.
    const right = Math.max(GAP, window.innerWidth - box.right);
    if (window.innerWidth - right - width < GAP) {
      menu.style.left = `${GAP}px`;
      menu.style.right = "auto";
    } else {
      menu.style.left = "auto";
      menu.style.right = `${right}px`;
    }
  }

  menu.addEventListener("beforetoggle", (event) => {
    if (event.newState !== "open") return;
    onOpen?.();
    place(); // before it shows: it never flashes elsewhere
  });
  menu.addEventListener("toggle", (event) => {
    const open = event.newState === "open";
    button.setAttribute("aria-expanded", String(open));
    if (open) {
      place(); // again, with its real width
      [...menu.querySelectorAll(FOCUSABLE)].find((el) => !el.closest("[hidden]") && el.offsetParent !== null)?.focus();
    } else {
      const focus = document.activeElement;
      if (!focus || focus === document.body || menu.contains(focus)) button.focus();
    }
  });
  window.addEventListener("resize", () => {
    if (menu.matches(":popover-open")) place();
  });
  return {
    close() {
      if (menu.matches(":popover-open")) menu.hidePopover();
    },
  };
}
