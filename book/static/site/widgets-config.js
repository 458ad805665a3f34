// Point RequireJS at the locally served widget bundle, so the widget manager
// resolves its fonts and modules under _static/vendor/widgets/ and never a CDN.
(function () {
  var src = document.currentScript.src.split("?")[0];
  var staticRoot = src.slice(0, src.lastIndexOf("/site/") + 1);
  require.config({
    paths: { "@jupyter-widgets/html-manager/dist": staticRoot + "vendor/widgets" },
  });
  // The widget controls typeset their labels with the MathJax 2 API
  // (MathJax.Hub.Queue); the site ships MathJax 3. Bridge the one call they make.
  document.addEventListener("DOMContentLoaded", function () {
    var mj = window.MathJax;
    if (!mj || mj.Hub) {
      return;
    }
    mj.Hub = {
      Queue: function (job) {
        var el = job && job[2];
        var ready = mj.startup && mj.startup.promise ? mj.startup.promise : Promise.resolve();
        ready.then(function () {
          if (el && mj.typesetPromise) {
            return mj.typesetPromise([el]);
          }
        }).catch(function () {});
      },
    };
  });
})();
