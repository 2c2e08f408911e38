// Loaded by every page after its module scripts (a classic deferred script, ES5 on purpose).
// When the network drops mid-load, a page module (or one it imports) never arrives: the page
// stayed on "加载中…", or showed its HTML with nothing working, and no message. Each entry
// module records its name on <html data-js> when it has run (ui.js, entryLoaded); at
// DOMContentLoaded every module script has run or failed, so a name missing then means it
// failed: say so, in the page's language, with a button that loads the page again.
(function () {
  var probe = document.createElement("script");
  if (!("noModule" in probe)) return; // too old for modules: legacy.js speaks on customer pages

  function missing() {
    var ran = " " + (document.documentElement.getAttribute("data-js") || "") + " ";
    var scripts = document.querySelectorAll('script[type="module"][src]');
    var out = [];
    for (var i = 0; i < scripts.length; i++) {
      var name = scripts[i].getAttribute("src").split("/").pop();
      if (ran.indexOf(" " + name + " ") < 0) out.push(name);
    }
    return out;
  }

  function english() {
    try {
      return window.localStorage.getItem("kesu.lang") === "en";
    } catch (e) {
      return false; // storage blocked (private mode): the default language
    }
  }

  function show() {
    if (!missing().length || document.getElementById("boot-error")) return;
    var en = english();
    var box = document.createElement("div");
    box.id = "boot-error";
    box.className = "alert";
    box.setAttribute("role", "alert");
    var text = document.createElement("p");
    text.textContent = en
      ? "The page did not load completely (the network may have dropped). Check the connection, then load the page again."
      : "页面没有完整加载（网络可能中断了）。请检查网络后重新加载页面。";
    var button = document.createElement("button");
    button.type = "button";
    button.className = "btn block";
    button.textContent = en ? "Load again" : "重新加载";
    button.addEventListener("click", function () {
      window.location.reload();
    });
    box.appendChild(text);
    box.appendChild(button);
    var loading = document.getElementById("view-loading");
    if (loading) loading.hidden = true;
    var main = document.querySelector("main") || document.body;
    main.insertBefore(box, main.firstChild);
  }

  document.addEventListener("DOMContentLoaded", show);
})();
