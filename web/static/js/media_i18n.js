// Strings of what a phone's browser may do differently with the camera, the microphone and
// the connection (localmedia.js, rtc.js), added to i18n.js's tables with addStrings so that
// the shared file stays as it is.

import { addStrings } from "./i18n.js";

addStrings("zh-CN", {
  "media.no_camera": "没有找到摄像头。本次双录需要摄像头和麦克风：请接好摄像头后点“重新检测”，或换用带摄像头的手机或电脑打开此链接。",
  "media.no_mic": "没有找到麦克风。本次双录需要摄像头和麦克风：请接好麦克风（或耳机）后点“重新检测”，或换用手机打开此链接。",
  "media.denied_in_app": "摄像头或麦克风的使用权限被拒绝：当前应用内置的浏览器可能不允许网页使用摄像头。请点右上角“···”，选择“在浏览器打开”，用手机自带的浏览器继续；或在手机“设置”中允许该应用使用摄像头和麦克风，然后点“重新检测”。",
  "media.no_picture": "摄像头没有画面：请确认摄像头没有被遮挡、没有被电话或其他应用占用，然后点“重新检测”。",
  "media.waiting": "正在等待浏览器允许使用摄像头和麦克风：请在弹出的提示中点“允许”。如果没有看到提示，请刷新页面，或用手机自带的浏览器打开此链接。",
  "rtc.no_route": "无法建立音视频连接：当前网络可能不允许视频通话（如公司、酒店或公共 Wi-Fi）。请换用手机流量（4G/5G）或其他网络，页面会自动重试；如仍无法连接，请点“重新连接”或“重试”。",
});
addStrings("en", {
  "media.no_camera":
    "No camera was found. This recording needs a camera and a microphone: connect a camera and tap “Check again”, or open the link on a phone or computer with a camera.",
  "media.no_mic":
    "No microphone was found. This recording needs a camera and a microphone: connect a microphone (or a headset) and tap “Check again”, or open the link on a phone.",
  "media.denied_in_app":
    "Access to the camera or microphone was refused: this app's built-in browser may not let web pages use the camera. Tap “···” at the top right and choose “Open in browser” to continue in the phone's own browser, or allow this app to use the camera and microphone in the phone's Settings, then tap “Check again”.",
  "media.no_picture":
    "The camera shows no picture: make sure it is not covered or in use by a phone call or another app, then tap “Check again”.",
  "media.waiting":
    "Waiting for the browser to allow the camera and microphone: choose “Allow” when it asks. If you see no question, reload the page, or open the link in the phone's own browser.",
  "rtc.no_route":
    "The video connection could not be set up: this network may not allow video calls (a company, hotel or public Wi-Fi). Switch to mobile data (4G/5G) or another network: the page tries again by itself. If it still cannot connect, tap “Reconnect” or “Retry”.",
});
