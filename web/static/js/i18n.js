// Every visible string of the pages, in zh-CN (default) and English.
// Static markup says <span data-i18n="key">; code calls t(key, vars) or setText(el, key, vars),
// which also records the key on the element so that a language switch re-translates it in place
// (a call in progress must never be reloaded to change language).

const STORAGE_KEY = "kesu.lang";
export const LANGS = ["zh-CN", "en"];

const STRINGS = {
  "zh-CN": {
    "app.name": "可溯 · 远程双录",
    "lang.switch": "English",
    "common.loading": "加载中…",
    "common.logout": "退出登录",
    "common.back": "返回",
    "common.close": "关闭",
    "common.retry": "重试",
    "error.network": "网络错误，请检查网络后重试。",
    "error.generic": "出错了：{message}",
    "error.timeout": "网络太慢，请求超时。请检查网络后重试。",
    "error.server": "服务暂时无法访问（{status}），请稍后重试。",
    "err.bad_credentials": "用户名或密码错误。",
    "err.csrf_failed": "页面已过期，请刷新后重试。",
    "err.too_many_attempts": "登录失败次数过多，请稍后再试。",
    "err.origin_mismatch": "请求并非来自本站页面，已拒绝。请从本站重新打开页面。",
    "err.invalid_id_number": "客户身份证号码无效。",
    "err.token_expired": "链接已过期，请联系销售人员获取新的链接。",
    "err.token_invalid": "链接无效，请联系销售人员获取新的链接。",
    "err.token_revoked": "链接已作废，请联系销售人员获取新的链接。",
    "err.salesperson_disabled": "本次双录的销售人员账号已停用，链接无法继续使用。请联系保险公司。",
    "err.salesperson_not_qualified": "本次双录的销售人员暂不具备远程双录资格，链接无法继续使用。请联系保险公司。",
    "err.consent_required": "请先同意录音录像。",
    "err.session_ended": "本次双录已结束。",
    "err.not_qualified": "您尚未取得远程双录资格。",
    "err.already_connected": "该链接已在另一台设备上使用。",
    "err.capacity": "当前同时进行的双录已满，请稍后再试。",
    "err.role_taken": "该链接（或本场通话）已在另一台设备或窗口中连接。",
    "err.room_closed": "本场通话已关闭。",
    "err.codec_unsupported": "您的浏览器不支持所需的音视频格式，请换用最新版浏览器。",
    "err.storage_full": "服务器存储空间不足，暂时无法开始录制。请稍后再试，或联系销售人员。",
    "err.too_many_live_sessions": "同时进行的双录已达上限，请稍后再试（或先结束一场进行中的双录）。",
    "err.too_many_sessions": "创建双录过于频繁，请稍后再试。",
    "err.too_many_joins": "重新连接的次数过多，请联系销售人员。",
    "err.too_many_revocations": "此会话的链接已作废太多次，请新建会话。",
    "err.too_many_checks": "这一步已检测多次，请联系销售人员。",
    "err.nothing_recorded": "还没有录到您的画面和声音，请确认摄像头和麦克风已开启、录制中后再提交。",
    "err.too_many_events": "本次双录记录的操作过多，请联系销售人员。",
    "err.too_many_streams": "打开的页面过多，请关闭其他窗口后重试。",
    "err.busy": "系统正忙，请稍后再试。",
    "err.invalid_image": "照片无法识别，请重新拍摄。",
    "err.unsupported_media_type": "不支持该文件格式。",
    "err.not_connected": "尚未连上通话，请稍后再试。",
    "err.playback_busy": "正在播放，请等播放结束。",
    "err.playback_failed": "播放失败，请重试。",
    "err.playback_unavailable": "这段录音暂时无法播放。",
    "err.sdp_malformed": "您的浏览器无法建立音视频连接，请换用最新版浏览器。",
    "err.invalid_sdp": "您的浏览器无法建立音视频连接，请换用最新版浏览器。",
    "err.sdp_too_large": "您的浏览器无法建立音视频连接，请换用最新版浏览器。",
    "err.image_too_large": "照片太大，请重新拍摄。",
    "err.rejoin_window_expired": "离开时间过长，已无法回到本次双录，请联系销售人员。",
    "err.node_unavailable": "本次双录所在的服务器暂时无法访问，请稍后再试。",

    "login.title": "登录",
    "login.subtitle": "销售人员与质检人员登录",
    "login.username": "用户名",
    "login.password": "密码",
    "login.submit": "登录",
    "login.busy": "正在登录…",

    "sales.title": "我的双录",
    "sales.greeting": "{name}（{institution}）",
    "sales.new": "新建双录",
    "sales.list": "双录记录",
    "sales.empty": "暂无双录记录。",
    "sales.refresh": "刷新",
    "sales.create": "创建并生成客户链接",
    "sales.creating": "正在创建…",
    "sales.created": "双录已创建：{customer} · {product}",
    "sales.link": "客户加入链接",
    "sales.copy": "复制链接",
    "sales.copied": "已复制",
    "sales.copy_failed": "无法自动复制，请手动选择链接复制。",
    "sales.qr": "请客户用手机扫描二维码加入",
    "sales.expires": "链接有效期至 {time}",
    "sales.enter": "进入通话",
    "sales.get_link": "邀请链接",
    "sales.whole_life": "终身",
    "sales.form_errors": "请修改标红的项目。",
    "col.customer": "客户",
    "col.product": "产品",
    "col.created": "创建时间",
    "col.status": "状态",
    "col.result": "质检结果",
    "col.actions": "操作",
    "field.customer_name": "客户姓名",
    "field.customer_id_number": "客户身份证号",
    "field.product_name": "产品名称",
    "field.product_type": "产品类型",
    "field.template_id": "话术模板",
    "field.mode": "录制方式",
    "mode.two_party": "远程双录（销售人员在线讲解）",
    "mode.self_service": "自助双录（客户独自完成）",
    "field.premium": "保费（元）",
    "field.payment_method": "缴费方式",
    "field.payment_years": "缴费年期（年）",
    "field.insurance_years": "保险期间（年，留空为终身）",
    "field.cooling_off_days": "犹豫期（天）",
    "products.main": "主险",
    "products.rider_n": "附加险 {n}",
    "products.add_rider": "＋ 添加附加险",
    "products.remove": "删除此附加险",
    "products.template": "本产品的话术模板",
    "products.template_same": "与主险共用话术模板",
    "products.total": "合计保费：{total} 元（主险 + {n} 个附加险）",
    "validation.template_type": "话术模板不适用于此产品类型，请为此产品选择适用的话术模板",
    "product.traditional": "传统型",
    "product.participating": "分红型",
    "product.universal": "万能型",
    "product.investment_linked": "投资连结型",
    "pay.年交": "年交",
    "pay.月交": "月交",
    "pay.趸交": "趸交",
    "validation.required": "请填写{field}。",
    "validation.id_number": "身份证号码无效：{reason}。",
    "validation.id.length": "应为18位",
    "validation.id.format": "格式不正确",
    "validation.id.date": "出生日期不正确",
    "validation.id.check": "校验位不符",
    "validation.integer": "{field}须为 {min}–{max} 之间的整数。",
    "validation.premium": "保费须为大于 0 的数字。",
    "validation.template": "请选择适用于该产品类型的话术模板。",
    "status.created": "待开始",
    "status.live": "进行中",
    "status.ended": "已结束",
    "status.interrupted": "已中断",
    "inspection.none": "—",
    "inspection.queued": "排队质检",
    "inspection.running": "质检中",
    "inspection.failed": "质检出错",
    "verdict.pass": "通过",
    "verdict.fail": "不通过",
    "verdict.review": "待人工复核",
    "verdict.flagged": "机器质检有问题",
    "inspection.pending": "待质检",
    "inspection.done": "质检完成",
    "review.queued": "待复核",
    "review.second_pending": "待二审",
    "review.approved": "复核通过",
    "review.rejected": "已驳回",
    "sales.findings": "{n} 项问题",
    "sales.view_findings": "查看问题",
    "sales.view_result": "质检结果",

    "call.title": "远程双录",
    "call.remote": "客户",
    "call.local": "我（销售人员）",
    "call.start": "开始通话",
    "call.starting": "正在打开摄像头…",
    "call.reconnect": "重新连接",
    "call.reconnecting": "连接中断，正在重新连接（第 {n} 次）…",
    "call.consent_yes": "客户已同意录音录像（{time}）",
    "call.consent_no": "客户尚未同意录音录像",
    "call.customer_on": "客户已在线",
    "call.customer_off": "客户未在线",
    "call.recording_failed": "服务器无法保存录制（磁盘已满或故障），本次双录未被完整保存。请结束本次双录并联系管理员。",
    "call.storage_low": "服务器磁盘剩余空间不足：录制仍在继续，但可能无法完整保存。请尽快完成本次双录并告知管理员。",
    "call.script": "话术提示",
    "call.node_pos": "第 {i} / {n} 节",
    "call.not_started": "点击“开始话术”进入第一节。",
    "call.begin": "开始话术",
    "call.next": "下一步",
    "call.prev": "上一步",
    "call.done": "话术已全部完成",
    "call.requires_answer": "需客户明确回答",
    "call.document": "请出示：{document}",
    "call.estimated": "预计时长约 {min} 分钟",
    "call.end": "结束录制",
    "call.end_confirm": "确定结束本次录制吗？结束后不能继续录制。",
    "call.end_no_consent": "客户尚未同意录音录像。仍要结束本次录制吗？",
    "call.ended": "录制已结束，文件已保存并提交质检。",
    "call.back": "返回列表",
    "call.copy_link": "复制客户链接",
    "call.revoke_link": "作废客户链接",
    "call.revoke_confirm": "作废后，已发出的客户链接立即失效，客户会被移出通话。确定作废吗？",
    "call.link_revoked": "客户链接已作废。需要时请点“复制客户链接”获取新链接。",
    "call.session_info": "{customer} · {product}",
    "speaker.salesperson": "销售人员朗读",
    "speaker.customer": "客户朗读",
    "doc.id_card": "身份证",
    "doc.signature": "签名及抄录的风险提示语句",
    "doc.practice_card": "执业证",
    "doc.terms": "保险条款",
    "doc.application": "投保提示书",

    "rtc.new": "未连接",
    "rtc.connecting": "连接中…",
    "rtc.connected": "已连接",
    "rtc.disconnected": "连接不稳定…",
    "rtc.failed": "连接失败",
    "rtc.closed": "已断开",
    "rtc.interrupted": "连接中断，录制已暂停",
    "rtc.interrupted_banner": "连接中断，录制已暂停。网络或服务恢复后将自动重新连接，请勿关闭页面。",
    "away.notice": "录制期间请保持本页面在前台：切换到其他应用或锁屏时，手机可能暂停摄像头，这段录像会中断。",
    "away.ok": "知道了",
    "rtc.unmute": "点此开启声音",
    "err.sdp_media_missing": "需要同时打开摄像头和麦克风才能录制，请允许使用摄像头后刷新页面。",

    "join.title": "远程双录",
    "join.invite": "{name}（{institution}）邀请您进行远程双录",
    "join.hello": "尊敬的{name}，您好！",
    "join.product": "产品：{product}",
    "join.step1": "第 1 步：同意录音录像",
    "join.step2": "第 2 步：设备检测",
    "join.step3": "第 3 步：视频通话",
    "join.consent_p1":
      "为保护您的合法权益，根据《保险销售行为管理办法》等监管规定，本次保险销售过程将全程录音录像（双录）。",
    "join.consent_p2":
      "录音录像由保险机构按规定保存，仅授权人员可以查看，每次查看都有记录，仅用于销售行为回溯、质量检查和纠纷处理，不会用于其他用途。",
    "join.consent_p3":
      "通话中请保持面部在画面内，按销售人员的提示回答问题、出示证件。您可以随时拒绝并退出。",
    "join.consent_check": "我已阅读以上内容，同意本次通话全程录音录像",
    "join.consent_button": "同意并继续",
    "join.decline": "不同意",
    "join.declined": "您未同意录音录像，本次双录无法进行。如有疑问，请联系销售人员。",
    "join.declined_back": "我改变主意了",
    "join.check_camera": "摄像头",
    "join.check_mic": "麦克风",
    "join.check_network": "网络",
    "join.check_testing": "检测中…",
    "join.check_ok": "正常",
    "join.check_fail": "异常",
    "join.check_network_ok": "正常（{ms} 毫秒）",
    "join.check_mic_hint": "请说几句话，音量条应随声音跳动。",
    "join.check_retry": "重新检测",
    "join.check_failed": "设备检测未通过：请允许浏览器使用摄像头和麦克风，并检查网络。",
    "join.check_network_failed": "网络检测未通过：服务器 3 秒内没有应答。请换到信号更好的地方或连接 Wi-Fi，然后点“重新检测”。",
    "media.denied": "摄像头或麦克风的使用权限被拒绝。请在浏览器弹出的提示中选择“允许”（或在手机“设置”中允许本浏览器使用摄像头和麦克风），然后点“重新检测”或刷新页面。",
    "media.absent": "没有找到摄像头或麦克风。本次双录需要摄像头和麦克风，请换用带摄像头的手机或电脑打开此链接。",
    "media.busy": "摄像头或麦克风正被其他应用占用（如电话、视频通话）。请关闭其他应用后点“重新检测”或刷新页面。",
    "media.insecure": "此页面没有通过安全连接（https）打开，浏览器不允许使用摄像头和麦克风。请联系销售人员获取正确的链接。",
    "media.in_app": "当前应用内置的浏览器无法使用摄像头进行视频双录。请点右上角“···”，选择“在浏览器打开”，用手机自带的浏览器继续。",
    "media.unsupported": "您的浏览器不支持视频通话。请用手机自带的浏览器（或最新版 Chrome、Safari）打开此链接。",
    "media.failed": "无法打开摄像头或麦克风（{message}）。请刷新页面重试，或换用手机自带的浏览器。",
    "media.lost": "摄像头或麦克风断开了（可能被拔出，或被电话等其他应用占用），录制的画面或声音已中断。请检查设备或关闭其他应用，页面会自动重新连接；如未恢复，请点“重新连接”或刷新页面。",
    "join.enter": "进入通话",
    "join.remote": "销售人员",
    "join.local": "我",
    "join.waiting": "等待销售人员加入…",
    "join.current": "当前环节",
    "join.not_started": "销售人员即将开始讲解，请稍候。",
    "join.ended": "本次双录已结束，感谢您的配合！",
    "join.leave": "离开通话",
    "cam.switch": "切换摄像头",
    "cam.failed": "无法切换摄像头（{message}）。请稍后再试。",
    "cam.kept": "无法切换到另一个摄像头（{message}），通话继续使用原来的摄像头。",
    "join.leave_confirm": "确定离开通话吗？离开后可用同一链接重新加入。",
    "join.left": "您已离开通话。",
    "join.recording_failed": "服务器暂时无法完整保存本次录制。销售人员已收到提示，会结束本次双录，之后再与您联系。您无需任何操作。",
    "join.rejoin": "重新加入",
    "join.reconnect": "重新连接",
    "join.reconnecting": "网络中断，正在自动重新连接（第 {n} 次）…",
  },
  en: {
    "app.name": "Kesu · remote recording",
    "lang.switch": "中文",
    "common.loading": "Loading…",
    "common.logout": "Log out",
    "common.back": "Back",
    "common.close": "Close",
    "common.retry": "Retry",
    "error.network": "Network error: check the connection and try again.",
    "error.generic": "Something went wrong: {message}",
    "error.timeout": "The network is too slow: the request timed out. Check the connection and try again.",
    "error.server": "The service cannot be reached right now ({status}). Please try again in a moment.",
    "err.bad_credentials": "Wrong username or password.",
    "err.csrf_failed": "This page has expired: reload it and try again.",
    "err.too_many_attempts": "Too many failed logins: wait a while and try again.",
    "err.origin_mismatch": "The request did not come from this site's pages and was refused.",
    "err.invalid_id_number": "The customer's ID number is not valid.",
    "err.token_expired": "This link has expired: ask the salesperson for a new one.",
    "err.token_invalid": "This link is not valid: ask the salesperson for a new one.",
    "err.token_revoked": "This link was withdrawn: ask the salesperson for a new one.",
    "err.salesperson_disabled": "The salesperson's account for this recording is no longer active, so this link cannot be used. Please contact the insurer.",
    "err.salesperson_not_qualified": "The salesperson for this recording is not qualified for remote recording at present, so this link cannot be used. Please contact the insurer.",
    "err.consent_required": "Please consent to the recording first.",
    "err.session_ended": "This recording has ended.",
    "err.not_qualified": "You are not qualified for remote recording yet.",
    "err.already_connected": "This link is in use on another device.",
    "err.capacity": "Too many recordings are running right now: try again later.",
    "err.role_taken": "This link (or this call) is already connected on another device or window.",
    "err.room_closed": "This call has been closed.",
    "err.codec_unsupported": "This browser lacks the audio/video formats needed: use a current browser.",
    "err.storage_full": "The server is short of storage space and cannot start recording now. Try again later, or contact the salesperson.",
    "err.too_many_live_sessions": "The most recordings allowed at once are running: try again later (or end one that is running).",
    "err.too_many_sessions": "Recordings are being created too often: try again later.",
    "err.too_many_joins": "This link has reconnected too many times: please contact the salesperson.",
    "err.too_many_revocations": "This session's links were withdrawn too many times: make a new session.",
    "err.too_many_checks": "This step has been checked too many times: please contact the salesperson.",
    "err.nothing_recorded": "Nothing of you has been recorded yet: make sure your camera and microphone are on and recording, then submit again.",
    "err.too_many_events": "This recording has recorded too many actions: please contact the salesperson.",
    "err.too_many_streams": "Too many pages are open: close the other windows and try again.",
    "err.busy": "The system is busy: try again in a moment.",
    "err.invalid_image": "The photo could not be read: please take it again.",
    "err.unsupported_media_type": "This file format is not supported.",
    "err.not_connected": "Not connected to the call yet: try again in a moment.",
    "err.playback_busy": "Something is playing: wait until it ends.",
    "err.playback_failed": "Playback failed: please try again.",
    "err.playback_unavailable": "This recording cannot be played right now.",
    "err.sdp_malformed": "This browser could not set up the audio/video connection: use a current browser.",
    "err.invalid_sdp": "This browser could not set up the audio/video connection: use a current browser.",
    "err.sdp_too_large": "This browser could not set up the audio/video connection: use a current browser.",
    "err.image_too_large": "The photo is too large: please take it again.",
    "err.rejoin_window_expired": "You were away too long to rejoin this recording: please contact the salesperson.",
    "err.node_unavailable": "The server holding this recording cannot be reached right now: try again later.",

    "login.title": "Sign in",
    "login.subtitle": "For salespeople and reviewers",
    "login.username": "Username",
    "login.password": "Password",
    "login.submit": "Sign in",
    "login.busy": "Signing in…",

    "sales.title": "My recordings",
    "sales.greeting": "{name} ({institution})",
    "sales.new": "New recording",
    "sales.list": "Recordings",
    "sales.empty": "No recordings yet.",
    "sales.refresh": "Refresh",
    "sales.create": "Create and get the customer's link",
    "sales.creating": "Creating…",
    "sales.created": "Recording created: {customer} · {product}",
    "sales.link": "Customer's join link",
    "sales.copy": "Copy link",
    "sales.copied": "Copied",
    "sales.copy_failed": "Could not copy: select the link and copy it by hand.",
    "sales.qr": "The customer scans this QR code with a phone",
    "sales.expires": "Link valid until {time}",
    "sales.enter": "Enter the call",
    "sales.get_link": "Join link",
    "sales.whole_life": "whole life",
    "sales.form_errors": "Please correct the fields marked in red.",
    "col.customer": "Customer",
    "col.product": "Product",
    "col.created": "Created",
    "col.status": "Status",
    "col.result": "Inspection",
    "col.actions": "Actions",
    "field.customer_name": "Customer name",
    "field.customer_id_number": "Customer ID number",
    "field.product_name": "Product name",
    "field.product_type": "Product type",
    "field.template_id": "Script template",
    "field.mode": "Recording mode",
    "mode.two_party": "Remote, with the salesperson",
    "mode.self_service": "Self-service (customer alone)",
    "field.premium": "Premium (CNY)",
    "field.payment_method": "Payment method",
    "field.payment_years": "Payment period (years)",
    "field.insurance_years": "Insurance period (years, empty = whole life)",
    "field.cooling_off_days": "Cooling-off period (days)",
    "products.main": "Main product",
    "products.rider_n": "Rider {n}",
    "products.add_rider": "+ Add a rider",
    "products.remove": "Remove this rider",
    "products.template": "This product's script template",
    "products.template_same": "Same script template as the main product",
    "products.total": "Total premium: {total} CNY (main product + {n} riders)",
    "validation.template_type": "The script template does not cover this product type; choose one for this product",
    "product.traditional": "Traditional",
    "product.participating": "Participating",
    "product.universal": "Universal",
    "product.investment_linked": "Investment-linked",
    "pay.年交": "Annual",
    "pay.月交": "Monthly",
    "pay.趸交": "Single premium",
    "validation.required": "{field} is required.",
    "validation.id_number": "ID number is not valid: {reason}.",
    "validation.id.length": "it must have 18 characters",
    "validation.id.format": "wrong format",
    "validation.id.date": "wrong birth date",
    "validation.id.check": "the check character does not match",
    "validation.integer": "{field} must be a whole number from {min} to {max}.",
    "validation.premium": "Premium must be a number above 0.",
    "validation.template": "Choose a script template for this product type.",
    "status.created": "Not started",
    "status.live": "In progress",
    "status.ended": "Ended",
    "status.interrupted": "Interrupted",
    "inspection.none": "—",
    "inspection.queued": "Queued",
    "inspection.running": "Inspecting",
    "inspection.failed": "Inspection error",
    "verdict.pass": "Passed",
    "verdict.fail": "Failed",
    "verdict.review": "Needs review",
    "verdict.flagged": "Flagged by inspection",
    "inspection.pending": "Awaiting inspection",
    "inspection.done": "Inspected",
    "review.queued": "Awaiting review",
    "review.second_pending": "Awaiting second review",
    "review.approved": "Approved",
    "review.rejected": "Rejected",
    "sales.findings": "{n} findings",
    "sales.view_findings": "View findings",
    "sales.view_result": "Inspection result",

    "call.title": "Remote recording",
    "call.remote": "Customer",
    "call.local": "Me (salesperson)",
    "call.start": "Start the call",
    "call.starting": "Opening the camera…",
    "call.reconnect": "Reconnect",
    "call.reconnecting": "Connection lost, reconnecting (attempt {n})…",
    "call.consent_yes": "Customer consented to recording ({time})",
    "call.consent_no": "Customer has not consented to recording yet",
    "call.customer_on": "Customer is online",
    "call.customer_off": "Customer is not connected",
    "call.recording_failed": "The server cannot save the recording (its disk is full or failing): this session is not being fully recorded. End the session and contact your administrator.",
    "call.storage_low": "The server's disk is nearly full: recording goes on but may not be saved completely. Finish this session soon and tell your administrator.",
    "call.script": "Script",
    "call.node_pos": "Step {i} of {n}",
    "call.not_started": "Press “Start the script” for the first step.",
    "call.begin": "Start the script",
    "call.next": "Next",
    "call.prev": "Back",
    "call.done": "Script complete",
    "call.requires_answer": "The customer must answer clearly",
    "call.document": "Show: {document}",
    "call.estimated": "About {min} min",
    "call.end": "End recording",
    "call.end_confirm": "End this recording? It cannot be resumed afterwards.",
    "call.end_no_consent": "The customer has not consented yet. End this recording anyway?",
    "call.ended": "Recording ended; files saved and queued for inspection.",
    "call.back": "Back to the list",
    "call.copy_link": "Copy customer's link",
    "call.revoke_link": "Withdraw customer's link",
    "call.revoke_confirm": "The links already sent stop working at once and the customer leaves the call. Withdraw the link?",
    "call.link_revoked": "The customer's link was withdrawn. Use “Copy customer's link” for a new one when needed.",
    "call.session_info": "{customer} · {product}",
    "speaker.salesperson": "Salesperson reads",
    "speaker.customer": "Customer reads",
    "doc.id_card": "ID card",
    "doc.signature": "signature and the hand-copied risk sentence",
    "doc.practice_card": "practice certificate",
    "doc.terms": "policy terms",
    "doc.application": "application prompt",

    "rtc.new": "Not connected",
    "rtc.connecting": "Connecting…",
    "rtc.connected": "Connected",
    "rtc.disconnected": "Connection unstable…",
    "rtc.failed": "Connection failed",
    "rtc.closed": "Disconnected",
    "rtc.interrupted": "Connection lost, recording paused",
    "rtc.interrupted_banner": "Connection lost, recording paused. It reconnects by itself once the network or the service is back; keep this page open.",
    "away.notice": "Keep this page in front while recording: when you switch to another app or lock the screen, the phone may pause the camera and that part of the recording is lost.",
    "away.ok": "OK",
    "rtc.unmute": "Tap to turn on the sound",
    "err.sdp_media_missing": "Both the camera and the microphone are needed to record: allow the camera, then reload the page.",

    "join.title": "Remote recording",
    "join.invite": "{name} ({institution}) invites you to a remote recorded meeting",
    "join.hello": "Hello, {name}!",
    "join.product": "Product: {product}",
    "join.step1": "Step 1: consent to recording",
    "join.step2": "Step 2: device check",
    "join.step3": "Step 3: video call",
    "join.consent_p1":
      "To protect your rights, regulations require that this insurance sale be recorded on audio and video from start to end.",
    "join.consent_p2":
      "The insurer keeps the recording as the rules require; only authorised staff can view it, every view is logged, and it is used only to trace the sale, check its quality and settle disputes.",
    "join.consent_p3":
      "During the call keep your face in the picture, answer the salesperson's questions and show documents when asked. You may refuse and leave at any time.",
    "join.consent_check": "I have read the above and agree that this call is recorded",
    "join.consent_button": "Agree and continue",
    "join.decline": "I do not agree",
    "join.declined":
      "You did not agree to the recording, so it cannot take place. Contact the salesperson with any questions.",
    "join.declined_back": "I changed my mind",
    "join.check_camera": "Camera",
    "join.check_mic": "Microphone",
    "join.check_network": "Network",
    "join.check_testing": "Checking…",
    "join.check_ok": "OK",
    "join.check_fail": "Problem",
    "join.check_network_ok": "OK ({ms} ms)",
    "join.check_mic_hint": "Say a few words: the bar should move with your voice.",
    "join.check_retry": "Check again",
    "join.check_failed":
      "Device check failed: allow the browser to use the camera and microphone, and check the network.",
    "join.check_network_failed":
      "Network check failed: the server did not answer within 3 seconds. Move to a place with a better signal or use Wi-Fi, then tap “Check again”.",
    "media.denied":
      "Access to the camera or microphone was refused. Choose “Allow” when the browser asks (or allow this browser to use the camera and microphone in the phone's Settings), then tap “Check again” or reload the page.",
    "media.absent":
      "No camera or microphone was found. This recording needs both: open the link on a phone or computer with a camera.",
    "media.busy":
      "The camera or microphone is in use by another app (a phone or video call). Close it, then tap “Check again” or reload the page.",
    "media.insecure":
      "This page was not opened over a secure (https) connection, so the browser will not allow the camera and microphone. Ask the salesperson for the correct link.",
    "media.in_app":
      "This app's built-in browser cannot use the camera for a video recording. Tap “···” at the top right and choose “Open in browser” to continue in the phone's own browser.",
    "media.unsupported":
      "This browser cannot make video calls. Open the link in the phone's own browser (or a current Chrome or Safari).",
    "media.failed": "Cannot open the camera or microphone ({message}). Reload the page, or use the phone's own browser.",
    "media.lost": "The camera or microphone stopped (unplugged, or taken by a phone call or another app): the recording's picture or sound is interrupted. Check the device or close the other app; the page reconnects by itself. If it does not, press Reconnect or reload the page.",
    "join.enter": "Join the call",
    "join.remote": "Salesperson",
    "join.local": "Me",
    "join.waiting": "Waiting for the salesperson…",
    "join.current": "Current step",
    "join.not_started": "The salesperson will begin shortly.",
    "join.ended": "This recording has ended. Thank you!",
    "join.leave": "Leave the call",
    "cam.switch": "Switch camera",
    "cam.failed": "Could not switch the camera ({message}). Try again in a moment.",
    "cam.kept": "Could not switch to the other camera ({message}); the call goes on with the camera it had.",
    "join.leave_confirm": "Leave the call? You can rejoin with the same link.",
    "join.left": "You left the call.",
    "join.recording_failed": "The server cannot fully save this recording at the moment. The salesperson has been told and will end this session, then contact you. There is nothing you need to do.",
    "join.rejoin": "Rejoin",
    "join.reconnect": "Reconnect",
    "join.reconnecting": "Connection lost, reconnecting automatically (attempt {n})…",
  },
};

// The language switched to on this page when it cannot be stored: storage blocked (cookies
// off, an Android WebView whose app left DOM storage off, as WebView's default is) threw on
// every access, and the switch to English did nothing at all.
let unstored = null;

/** The current language: stored choice, else zh-CN. */
export function lang() {
  let stored = unstored;
  try {
    stored = localStorage.getItem(STORAGE_KEY) || unstored;
  } catch {
    // storage may be blocked (private mode); fall back to this page's choice or the default
  }
  return LANGS.includes(stored) ? stored : "zh-CN";
}

/** Add strings (e.g. from the reviewer pages) without touching this file. */
export function addStrings(language, dict) {
  Object.assign(STRINGS[language], dict);
}

/** Does a translation exist for key? */
export function has(key) {
  return key in STRINGS[lang()] || key in STRINGS["zh-CN"];
}

/** The string for key in the current language with {var} placeholders filled. */
export function t(key, vars = {}) {
  const table = STRINGS[lang()];
  // No `??` here or anywhere in web/static/js: phones with Safari 13.0 / Chromium < 80 (older
  // in-app browsers) cannot parse ES2020, and one unparsable module blanks the whole page.
  const template = key in table ? table[key] : key in STRINGS["zh-CN"] ? STRINGS["zh-CN"][key] : key;
  return template.replace(/\{(\w+)\}/g, (m, name) => (name in vars ? String(vars[name]) : m));
}

/** Set el's text to t(key, vars) and remember key/vars so a language switch updates it. */
export function setText(el, key, vars = {}) {
  el.dataset.i18n = key;
  if (Object.keys(vars).length) el.dataset.i18nVars = JSON.stringify(vars);
  else delete el.dataset.i18nVars;
  el.textContent = t(key, vars);
  return el;
}

/** Translate every [data-i18n], [data-i18n-placeholder], [data-i18n-aria-label] under root. */
export function applyI18n(root = document) {
  document.documentElement.lang = lang();
  for (const el of root.querySelectorAll("[data-i18n]")) {
    const vars = el.dataset.i18nVars ? JSON.parse(el.dataset.i18nVars) : {};
    el.textContent = t(el.dataset.i18n, vars);
  }
  for (const el of root.querySelectorAll("[data-i18n-placeholder]")) {
    el.placeholder = t(el.dataset.i18nPlaceholder);
  }
  for (const el of root.querySelectorAll("[data-i18n-aria-label]")) {
    el.setAttribute("aria-label", t(el.dataset.i18nAriaLabel));
  }
  const title = document.querySelector("title[data-i18n-title]");
  if (title) document.title = t(title.dataset.i18nTitle);
}

/** Switch language, persist it, re-translate the page and tell listeners ("kesu:lang"). */
export function setLang(language) {
  if (!LANGS.includes(language)) return;
  unstored = language;
  try {
    localStorage.setItem(STORAGE_KEY, language);
  } catch {
    // not persisted; the switch still applies to this page
  }
  applyI18n();
  document.dispatchEvent(new CustomEvent("kesu:lang", { detail: language }));
}

/** Wire every [data-lang-switch] button to toggle zh-CN / English. */
export function initI18n() {
  applyI18n();
  for (const button of document.querySelectorAll("[data-lang-switch]")) {
    button.dataset.i18n = "lang.switch";
    button.textContent = t("lang.switch");
    button.addEventListener("click", () => setLang(lang() === "en" ? "zh-CN" : "en"));
  }
}

/** A server time (ISO 8601 text or Unix seconds) as local date and time in the current language. */
export function formatTime(iso) {
  if (iso === null || iso === undefined || iso === "") return "";
  // Numbers are Unix seconds (e.g. a join link's expires_at); strings are ISO 8601.
  const d = new Date(typeof iso === "number" ? iso * 1000 : iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  return d.toLocaleString(lang() === "en" ? "en-GB" : "zh-CN", {
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
  });
}
