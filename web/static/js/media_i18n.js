// Strings of what a phone's browser may do differently with the camera, the microphone and
// the connection (localmedia.js, rtc.js), added to i18n.js's tables with addStrings so that
// the shared file stays as it is.

import { addStrings } from "./i18n.js";

addStrings("zh-CN", {
  "media.no_camera": "没有找到摄像头。本次双录需要摄像头和麦克风：请接好摄像头后点“重新检测”，或换用带摄像头的手机或电脑打开此链接。",
  "media.no_mic": "没有找到麦克风。本次双录需要摄像头和麦克风：请接好麦克风（或耳机）后点“重新检测”，或换用手机打开此链接。",
});
addStrings("en", {
  "media.no_camera":
    "No camera was found. This recording needs a camera and a microphone: connect a camera and tap “Check again”, or open the link on a phone or computer with a camera.",
  "media.no_mic":
    "No microphone was found. This recording needs a camera and a microphone: connect a microphone (or a headset) and tap “Check again”, or open the link on a phone.",
});
