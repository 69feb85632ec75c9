// Progressive enhancement only: every page works without this script.
import { initConditionalReveals } from "./conditional-reveal.mjs";
import { initImportProgress } from "./import-progress.mjs";
import { initAll } from "./govuk-frontend.min.js";

// GOV.UK Frontend's page template sets these classes with an inline script, which our Content
// Security Policy forbids. Any browser that runs this module supports GOV.UK Frontend, and
// initAll() checks for "govuk-frontend-supported" before it starts the components.
document.body.classList.add("js-enabled", "govuk-frontend-supported");

initAll();
initConditionalReveals();
initImportProgress();
