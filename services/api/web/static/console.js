// Outpost console: the live job log. Written by hand, no library. Pages work without it.
(function () {
  "use strict";

  // A notice ("Settings saved.") arrives as ?notice= after a form's redirect: drop it from the address once
  // shown, so reloading the page does not show it again.
  if (window.history && window.history.replaceState && window.URLSearchParams) {
    var address = new URL(window.location.href);
    if (address.searchParams.has("notice")) {
      address.searchParams.delete("notice");
      window.history.replaceState(null, "", address.pathname + address.search + address.hash);
    }
  }

  var log = document.getElementById("job-log");
  if (!log || !log.dataset.events || !window.EventSource) {
    return;
  }
  var badge = document.getElementById("job-status");
  var steps = document.querySelector("#steps tbody");
  var source = new EventSource(log.dataset.events + "?offset=" + encodeURIComponent(log.dataset.offset || "0"));

  function show(id, visible) {
    var element = document.getElementById(id);
    if (element) {
      element.hidden = !visible;
    }
  }

  function atBottom() {
    return log.scrollHeight - log.scrollTop - log.clientHeight < 24;
  }

  function cell(row, text, badgeClass) {
    var td = row.insertCell();
    if (badgeClass) {
      var span = document.createElement("span");
      span.className = "badge " + badgeClass;
      span.textContent = text;
      td.appendChild(span);
    } else {
      td.textContent = text;
    }
  }

  show("live-badge", true);
  show("log-static", false);

  source.addEventListener("log", function (event) {
    var follow = atBottom();
    var lines = JSON.parse(event.data).lines;
    log.appendChild(document.createTextNode(lines.join("\n") + "\n"));
    log.dataset.offset = event.lastEventId;
    if (follow) {
      log.scrollTop = log.scrollHeight;
    }
  });

  source.addEventListener("steps", function (event) {
    if (!steps) {
      return;
    }
    var list = JSON.parse(event.data);
    if (!list.length) {
      return;
    }
    steps.textContent = "";
    list.forEach(function (step) {
      var row = steps.insertRow();
      cell(row, step.name);
      cell(row, step.stage, "stage-" + step.stage);
    });
  });

  source.addEventListener("status", function (event) {
    var status = JSON.parse(event.data).status;
    if (badge) {
      badge.textContent = status;
      badge.className = "badge status-" + status;
    }
  });

  source.addEventListener("end", function () {
    source.close();
    show("live-badge", false);
    show("log-ended", true);
  });
}());
