// The import progress bar (templates/officers/imports/batch.html): polls the batch's progress
// JSON and updates the bar and its text without reloading; once the import has finished, the page
// is reloaded once to show the result. Without JavaScript the page shows the figures as they were
// when it loaded, and reloading it shows the latest.

const POLL_MILLISECONDS = 1000;

function describe(progress) {
  const rate = progress.rows_per_second ? `, ${progress.rows_per_second} rows a second` : "";
  return `${progress.percent}% (${progress.rows_done} of ${progress.rows_total} rows)${rate}`;
}

export function initImportProgress(root = document) {
  const box = root.querySelector("[data-import-progress]");
  if (!box) {
    return;
  }
  const url = box.dataset.importProgress;
  const bar = box.querySelector("progress");
  const text = box.querySelector("[data-progress-text]");
  const status = root.getElementById ? root.getElementById("batch-status") : null;

  const poll = async () => {
    let progress;
    try {
      const response = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
      if (!response.ok) {
        throw new Error(String(response.status));
      }
      progress = await response.json();
    } catch {
      window.setTimeout(poll, POLL_MILLISECONDS * 5);
      return;
    }
    bar.value = progress.percent;
    bar.textContent = `${progress.percent}%`;
    text.textContent = describe(progress);
    if (status) {
      status.textContent = progress.status_label;
    }
    if (progress.finished) {
      window.location.reload();
      return;
    }
    window.setTimeout(poll, POLL_MILLISECONDS);
  };
  window.setTimeout(poll, POLL_MILLISECONDS);
}
