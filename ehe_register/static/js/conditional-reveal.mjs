// Answers revealed under a radio (templates/schools/_radios_reveal.html), for example the
// safeguarding details under "Yes".
//
// GOV.UK Frontend's Radios component does the same, but it also puts aria-expanded on the radio.
// ARIA 1.2 does not allow aria-expanded on a radio, and axe-core reports it (aria-allowed-attr;
// alphagov/govuk-frontend#979). So these radios are not a "govuk-radios" module: this keeps
// GOV.UK's markup and classes, links each radio to what it reveals with aria-controls (allowed
// on any element), and shows the block only while its radio is chosen. Without JavaScript every
// block is shown.

const HIDDEN = "govuk-radios__conditional--hidden";

export function initConditionalReveals(root = document) {
  const radios = [...root.querySelectorAll('input[type="radio"][data-reveals]')];
  if (radios.length === 0) {
    return;
  }
  const names = new Set(radios.map((radio) => radio.name));

  const sync = () => {
    for (const radio of radios) {
      const target = document.getElementById(radio.dataset.reveals);
      if (target) {
        target.classList.toggle(HIDDEN, !radio.checked);
      }
    }
  };

  for (const radio of radios) {
    radio.setAttribute("aria-controls", radio.dataset.reveals);
  }
  // Choosing another answer to the same question unchecks the revealing radio without an event
  // on it, so every change to these questions re-syncs them all.
  root.addEventListener("change", (event) => {
    const input = event.target;
    if (input instanceof HTMLInputElement && input.type === "radio" && names.has(input.name)) {
      sync();
    }
  });
  // The back button can restore a page with different answers chosen than it was sent with.
  window.addEventListener("pageshow", sync);
  sync();
}
