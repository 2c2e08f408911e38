// Only browsers that cannot run the pages' ES modules load this (<script nomodule>): say so in
// both languages instead of leaving "加载中…" on screen for ever. ES5 on purpose.
(function () {
  var box = document.getElementById("page-error");
  if (!box) return;
  box.hidden = false;
  box.removeAttribute("hidden");
  box.textContent =
    "您的浏览器版本过旧，无法进行视频双录。请用手机自带的浏览器（或最新版 Chrome、Safari）打开此链接。" +
    " This browser is too old for the video recording: open the link in the phone's own browser " +
    "(or a current Chrome or Safari).";
  var loading = document.getElementById("view-loading");
  if (loading) loading.hidden = true;
})();
