// schoolgate admin web: small progressive enhancements, served from /static (no inline script: strict CSP).
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  // The print button on a completed form.
  document.querySelectorAll("[data-print]").forEach((button) => {
    button.addEventListener("click", () => window.print());
  });

  // The authoriser's choices: show the group or device list only when that scope is chosen.
  const decide = document.querySelector("form.decide");
  if (decide) {
    const sync = () => {
      const approved = decide.querySelector("input[name=approved]:checked");
      const scope = decide.querySelector("input[name=scope]:checked");
      const when = decide.querySelector(".when-approved");
      if (when) when.hidden = approved !== null && approved.value === "no";
      const group = decide.querySelector("select[name=group_id]");
      const device = decide.querySelector("select[name=device_id]");
      if (group) group.closest(".field").hidden = !scope || scope.value !== "group";
      if (device) device.closest(".field").hidden = !scope || scope.value !== "device";
    };
    decide.addEventListener("change", sync);
    sync();
  }

  // A post's pupils by name: the search box hides the pupils whose name and class do not match what is typed.
  document.querySelectorAll("input[data-filter]").forEach((box) => {
    const list = document.querySelector(box.dataset.filter);
    if (!list) return;
    box.addEventListener("input", () => {
      const wanted = box.value.trim().toLowerCase();
      list.querySelectorAll("li").forEach((item) => {
        item.hidden = wanted !== "" && !item.textContent.toLowerCase().includes(wanted);
      });
    });
  });

  // List import: show upload progress, then let the server's page report the counts.
  document.querySelectorAll("form[data-upload]").forEach((form) => {
    form.addEventListener("submit", (event) => {
      const bar = form.querySelector("progress");
      if (!bar || !window.XMLHttpRequest) return;
      event.preventDefault();
      bar.hidden = false;
      const xhr = new XMLHttpRequest();
      xhr.open("POST", form.action);
      xhr.upload.addEventListener("progress", (e) => {
        if (e.lengthComputable) bar.value = Math.round((e.loaded / e.total) * 100);
      });
      xhr.addEventListener("load", () => {
        document.open();
        document.write(xhr.responseText);
        document.close();
      });
      xhr.send(new FormData(form));
    });
  });
});
