/*!
 * kefu web chat widget: one <script> tag, no framework, no build step.
 *
 *   <script src="https://BOT/webhooks/webchat/widget.js" data-server="https://BOT"
 *           data-customer-token="…" data-language="zh" defer></script>
 *
 * Loads widget.css and the vendored socket.io client from the same server and talks to the
 * bot's web chat channel (see webchat/README.md for the protocol).  Everything the server sends
 * is put into the page as text (textContent / createElement), never parsed as HTML.  The only
 * global this script leaves behind is window.KefuChat = {open, close, send}.
 */
(function () {
  'use strict';

  if (window.KefuChat) {
    return; // included twice: the first copy wins
  }

  const MAX_CHARS = 1000;
  const MAX_STORED = 100;
  const TYPING_TIMEOUT_MS = 20000;
  const COUNTER_FROM = 800; // show the character counter from this length on
  const ASSET_DIR = '/webhooks/webchat/';
  const SESSION_ID = /^[0-9a-f]{32}$/;
  const SVG_NS = 'http://www.w3.org/2000/svg';

  const LABELS = {
    zh: {
      title: '在线客服',
      dialog: '在线客服对话',
      openChat: '打开在线客服',
      closeChat: '关闭在线客服',
      close: '关闭',
      log: '聊天记录',
      input: '输入消息',
      placeholder: '请输入您的问题…',
      send: '发送',
      connecting: '连接中…',
      typing: '客服正在输入…',
      toggle: 'EN',
      toggleLabel: 'Switch to English（切换到英文）',
      welcome: '您好！我可以帮您挑选商品、查询订单物流、办理退换货。请问有什么可以帮您？',
      tooLong: '消息太长了：最多 ' + MAX_CHARS + ' 个字，请精简后再发送。',
      queued: '连接后发送',
      image: '图片',
      products: '商品推荐',
      newTab: '（在新窗口打开）',
      unread: '有新消息',
    },
    en: {
      title: 'Customer service',
      dialog: 'Customer service chat',
      openChat: 'Open customer service chat',
      closeChat: 'Close customer service chat',
      close: 'Close',
      log: 'Conversation',
      input: 'Type your message',
      placeholder: 'Ask me anything…',
      send: 'Send',
      connecting: 'Reconnecting…',
      typing: 'The assistant is typing…',
      toggle: '中文',
      toggleLabel: '切换到中文 (Switch to Chinese)',
      welcome:
        'Hello! I can help you choose products, track orders and handle returns. How can I help?',
      tooLong: 'That message is too long: at most ' + MAX_CHARS + ' characters, please shorten it.',
      queued: 'sent when connected',
      image: 'Image',
      products: 'Suggested products',
      newTab: ' (opens in a new tab)',
      unread: 'New message',
    },
  };
  const CARD_LABELS = {
    zh: { inStock: '有货', soldOut: '暂时缺货', listPrice: '原价', rating: '评分', about: '：' },
    en: {
      inStock: 'In stock',
      soldOut: 'Sold out',
      listPrice: 'was',
      rating: 'Rating',
      about: ': ',
    },
  };

  // ---- configuration from the script tag ------------------------------------------------------

  function ownScript() {
    if (document.currentScript) {
      return document.currentScript;
    }
    const scripts = document.querySelectorAll('script[src*="widget.js"]');
    return scripts[scripts.length - 1] || null;
  }

  function serverFrom(script) {
    const given = script && script.getAttribute('data-server');
    if (given) {
      return new URL(given, window.location.href).href.replace(/\/+$/, '');
    }
    const src = new URL(script ? script.src : '', window.location.href);
    const base = src.pathname.endsWith(ASSET_DIR + 'widget.js')
      ? src.pathname.slice(0, -(ASSET_DIR.length + 'widget.js'.length))
      : '';
    return src.origin + base;
  }

  const script = ownScript();
  const SERVER = serverFrom(script);
  const CUSTOMER_TOKEN = (script && script.getAttribute('data-customer-token')) || '';
  const PAGE_LANGUAGE = script && script.getAttribute('data-language') === 'en' ? 'en' : 'zh';
  const STORAGE_KEY = 'kefu-chat:' + SERVER;

  // ---- persisted state ------------------------------------------------------------------------

  /**
   * Who the customer token says is logged in (its unverified ``sub``; the bot checks the
   * signature), '' when nobody is.  Only used to keep one customer's chat from the next one.
   */
  function tokenSubject(token) {
    if (!token) {
      return '';
    }
    try {
      const payload = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
      const claims = JSON.parse(window.atob(payload));
      return typeof claims.sub === 'string' || typeof claims.sub === 'number'
        ? String(claims.sub)
        : '?';
    } catch {
      return '?'; // not a JWT: some customer is logged in
    }
  }

  const IDENTITY = tokenSubject(CUSTOMER_TOKEN);

  function loadState() {
    let saved = null;
    try {
      saved = JSON.parse(window.localStorage.getItem(STORAGE_KEY) || 'null');
    } catch {
      saved = null; // storage disabled or garbage: start afresh
    }
    saved = saved && typeof saved === 'object' ? saved : {};
    let sessionId =
      typeof saved.sessionId === 'string' && SESSION_ID.test(saved.sessionId)
        ? saved.sessionId
        : null;
    // the secret the server issued with the session: without it the session cannot be resumed
    let sessionSecret =
      sessionId && typeof saved.sessionSecret === 'string' ? saved.sessionSecret : null;
    if (saved.identity && saved.identity !== IDENTITY) {
      // logged out, or another customer on this browser: their conversation is not ours to see
      sessionId = null;
      sessionSecret = null;
    }
    return {
      sessionId: sessionId,
      sessionSecret: sessionSecret,
      identity: IDENTITY,
      open: saved.open === true,
      language: saved.language === 'en' || saved.language === 'zh' ? saved.language : PAGE_LANGUAGE,
      messages: sessionId && Array.isArray(saved.messages) ? saved.messages.slice(-MAX_STORED) : [],
    };
  }

  const state = loadState();

  function save() {
    state.messages = state.messages.slice(-MAX_STORED);
    try {
      window.localStorage.setItem(STORAGE_KEY, JSON.stringify(state));
    } catch {
      // private mode or quota: the chat still works, it is just not remembered
    }
  }

  function labels() {
    return LABELS[state.language];
  }

  // ---- small DOM helpers ----------------------------------------------------------------------

  function el(tag, className, attributes) {
    const node = document.createElement(tag);
    if (className) {
      node.className = className;
    }
    Object.keys(attributes || {}).forEach(function (name) {
      node.setAttribute(name, attributes[name]);
    });
    return node;
  }

  function svgIcon(paths) {
    const svg = document.createElementNS(SVG_NS, 'svg');
    svg.setAttribute('viewBox', '0 0 24 24');
    svg.setAttribute('aria-hidden', 'true');
    svg.setAttribute('focusable', 'false');
    paths.forEach(function (d) {
      const path = document.createElementNS(SVG_NS, 'path');
      path.setAttribute('d', d);
      svg.appendChild(path);
    });
    return svg;
  }

  /** An http(s) or relative URL resolved against the page; null for anything else (javascript:). */
  function safeUrl(value) {
    if (typeof value !== 'string' || !value.trim()) {
      return null;
    }
    try {
      const url = new URL(value.trim(), window.location.href);
      return url.protocol === 'http:' || url.protocol === 'https:' ? url.href : null;
    } catch {
      return null;
    }
  }

  function str(value) {
    return typeof value === 'string' ? value : typeof value === 'number' ? String(value) : '';
  }

  function link(text, href, className) {
    const a = el('a', className, { href: href, target: '_blank', rel: 'noopener noreferrer' });
    a.textContent = text;
    return a;
  }

  const URL_IN_TEXT = /https?:\/\/[^\s<>"'，。、；！？（）【】「」]+/g;

  /** Text with its newlines kept (CSS pre-wrap) and http(s) addresses as links. */
  function appendText(parent, text) {
    let last = 0;
    text.replace(URL_IN_TEXT, function (match, offset) {
      const trimmed = match.replace(/[.,;:!?)\]]+$/, '');
      const href = safeUrl(trimmed);
      if (href) {
        parent.appendChild(document.createTextNode(text.slice(last, offset)));
        parent.appendChild(link(trimmed, href, 'kefu-text-link'));
        last = offset + trimmed.length;
      }
      return match;
    });
    parent.appendChild(document.createTextNode(text.slice(last)));
  }

  // ---- the widget's DOM -----------------------------------------------------------------------

  const root = el('div', 'kefu-root', { 'data-kefu': 'root', hidden: '' });
  const launcher = el('button', 'kefu-launcher', {
    type: 'button',
    'data-kefu': 'launcher',
    'aria-controls': 'kefu-panel',
    'aria-expanded': 'false',
  });
  launcher.appendChild(
    svgIcon(['M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z'])
  );
  const unreadDot = el('span', 'kefu-unread', { 'aria-hidden': 'true', hidden: '' });
  launcher.appendChild(unreadDot);

  const panel = el('section', 'kefu-panel', {
    id: 'kefu-panel',
    role: 'dialog',
    'aria-modal': 'false',
    'data-kefu': 'panel',
    hidden: '',
  });
  const header = el('header', 'kefu-header');
  const title = el('div', 'kefu-title');
  const status = el('div', 'kefu-status', { 'data-kefu': 'status', role: 'status', hidden: '' });
  const langToggle = el('button', 'kefu-lang', { type: 'button', 'data-kefu': 'lang-toggle' });
  const closeButton = el('button', 'kefu-close', { type: 'button', 'data-kefu': 'close' });
  closeButton.appendChild(svgIcon(['M6 6l12 12M18 6L6 18']));
  const titleBox = el('div', 'kefu-titlebox');
  titleBox.append(title, status);
  header.append(titleBox, langToggle, closeButton);

  const log = el('div', 'kefu-log', {
    role: 'log',
    'aria-live': 'polite',
    'data-kefu': 'log',
    tabindex: '0',
  });
  const welcome = el('p', 'kefu-welcome', { 'data-kefu': 'welcome' });
  log.appendChild(welcome);

  const typing = el('div', 'kefu-typing', { 'data-kefu': 'typing', hidden: '' });
  const typingDots = el('span', 'kefu-dots', { 'aria-hidden': 'true' });
  typingDots.append(el('span'), el('span'), el('span'));
  const typingText = el('span', 'kefu-sr-only');
  typing.append(typingDots, typingText);

  const notice = el('div', 'kefu-notice', { role: 'alert', 'data-kefu': 'notice', hidden: '' });
  const form = el('form', 'kefu-composer', { 'data-kefu': 'composer' });
  const input = el('textarea', 'kefu-input', { rows: '1', 'data-kefu': 'input' });
  const counter = el('span', 'kefu-counter', { 'data-kefu': 'counter', hidden: '' });
  const sendButton = el('button', 'kefu-send', { type: 'submit', 'data-kefu': 'send' });
  form.append(input, counter, sendButton);

  panel.append(header, log, typing, notice, form);
  root.append(panel, launcher);

  function labelLauncher() {
    const t = labels();
    const label = panel.hidden ? t.openChat : t.closeChat;
    launcher.setAttribute('aria-label', unreadDot.hidden ? label : label + ' (' + t.unread + ')');
  }

  function applyLabels() {
    const t = labels();
    root.setAttribute('lang', state.language === 'en' ? 'en' : 'zh-CN');
    labelLauncher();
    panel.setAttribute('aria-label', t.dialog);
    title.textContent = t.title;
    status.textContent = t.connecting;
    langToggle.textContent = t.toggle;
    langToggle.setAttribute('aria-label', t.toggleLabel);
    langToggle.setAttribute('lang', state.language === 'en' ? 'zh-CN' : 'en');
    closeButton.setAttribute('aria-label', t.close);
    log.setAttribute('aria-label', t.log);
    welcome.textContent = t.welcome;
    typingText.textContent = t.typing;
    input.setAttribute('aria-label', t.input);
    input.setAttribute('placeholder', t.placeholder);
    sendButton.textContent = t.send;
    log.querySelectorAll('.kefu-pending').forEach(function (bubble) {
      bubble.setAttribute('title', t.queued);
    });
  }

  // ---- messages -------------------------------------------------------------------------------

  /**
   * A server message reduced to the shapes the widget knows (the protocol's own shapes, so the
   * result can be stored and checked again on the next page load); null for anything else.
   */
  function normalizeBot(data) {
    if (!data || typeof data !== 'object') {
      return null;
    }
    const message = {};
    if (typeof data.text === 'string' && data.text) {
      message.text = data.text;
    }
    if (Array.isArray(data.quick_replies)) {
      const replies = data.quick_replies
        .map(function (reply) {
          if (!reply || typeof reply !== 'object' || !str(reply.title)) {
            return null;
          }
          if (typeof reply.url === 'string') {
            return { title: str(reply.title), url: reply.url };
          }
          return typeof reply.payload === 'string' && reply.payload
            ? { title: str(reply.title), payload: reply.payload }
            : null;
        })
        .filter(Boolean);
      if (replies.length) {
        message.quick_replies = replies;
      }
    }
    const attachment = data.attachment;
    if (
      attachment &&
      attachment.type === 'image' &&
      attachment.payload &&
      typeof attachment.payload.src === 'string'
    ) {
      message.attachment = { type: 'image', payload: { src: attachment.payload.src } };
    }
    const custom = data.custom;
    if (custom && custom.type === 'product_cards' && Array.isArray(custom.cards)) {
      const cards = custom.cards.filter(function (card) {
        return card && typeof card === 'object' && str(card.title);
      });
      if (cards.length) {
        message.custom = {
          type: 'product_cards',
          language:
            custom.language === 'en' || custom.language === 'zh' ? custom.language : state.language,
          cards: cards,
        };
      }
    }
    return Object.keys(message).length ? message : null;
  }

  function row(from) {
    return el('div', 'kefu-row kefu-row--' + from, { 'data-kefu': 'message', 'data-from': from });
  }

  function payloadButton(text, className, hook, onClick) {
    const button = el('button', className, { type: 'button', 'data-kefu': hook });
    button.textContent = text;
    button.addEventListener('click', onClick);
    return button;
  }

  function disableGroup(group) {
    group.querySelectorAll('button').forEach(function (button) {
      button.disabled = true;
    });
    group.classList.add('kefu-used');
  }

  function renderReplies(replies, live) {
    const group = el('div', 'kefu-replies', { role: 'group', 'data-kefu': 'quick-replies' });
    replies.forEach(function (reply) {
      if (reply.url !== undefined) {
        const href = safeUrl(reply.url);
        if (href) {
          const a = link(reply.title, href, 'kefu-reply kefu-reply--link');
          a.setAttribute('data-kefu', 'quick-reply-link');
          a.setAttribute('aria-label', reply.title + labels().newTab);
          group.appendChild(a);
        }
        return;
      }
      const button = payloadButton(reply.title, 'kefu-reply', 'quick-reply', function () {
        disableGroup(group);
        send(reply.payload, reply.title);
      });
      button.disabled = !live;
      group.appendChild(button);
    });
    if (!live) {
      group.classList.add('kefu-used');
    }
    return group;
  }

  function renderCard(card, language, live) {
    const t = CARD_LABELS[language];
    const name = str(card.title);
    const href = safeUrl(card.url);
    const article = el('article', 'kefu-card', {
      'data-kefu': 'card',
      'data-sku': str(card.sku),
      role: 'listitem',
      'aria-label': name,
    });

    const imageUrl = safeUrl(card.image);
    if (imageUrl) {
      const img = el('img', 'kefu-card__image', {
        src: imageUrl,
        alt: name,
        loading: 'lazy',
        decoding: 'async',
        'data-kefu': 'card-image',
      });
      img.addEventListener('error', function () {
        img.replaceWith(
          el('div', 'kefu-card__image kefu-card__image--none', { 'aria-hidden': 'true' })
        );
      });
      article.appendChild(img);
    } else {
      article.appendChild(
        el('div', 'kefu-card__image kefu-card__image--none', { 'aria-hidden': 'true' })
      );
    }

    const body = el('div', 'kefu-card__body');
    if (str(card.brand)) {
      const brand = el('div', 'kefu-card__brand');
      brand.textContent = str(card.brand);
      body.appendChild(brand);
    }
    const heading = el('div', 'kefu-card__title', { 'data-kefu': 'card-title' });
    if (href) {
      heading.appendChild(link(name, href, 'kefu-card__link'));
    } else {
      heading.textContent = name;
    }
    body.appendChild(heading);

    const prices = el('div', 'kefu-card__prices');
    const price = el('span', 'kefu-card__price', { 'data-kefu': 'card-price' });
    price.textContent = str(card.price);
    prices.appendChild(price);
    if (str(card.list_price)) {
      const was = el('s', 'kefu-card__list-price');
      was.textContent = str(card.list_price);
      was.setAttribute('aria-label', t.listPrice + ' ' + str(card.list_price));
      prices.appendChild(was);
    }
    body.appendChild(prices);

    const meta = el('div', 'kefu-card__meta');
    if (str(card.rating)) {
      const rating = el('span', 'kefu-card__rating', {
        'aria-label': t.rating + ' ' + str(card.rating),
      });
      rating.textContent = '★ ' + str(card.rating);
      meta.appendChild(rating);
    }
    const stock = el(
      'span',
      'kefu-badge ' + (card.in_stock ? 'kefu-badge--in' : 'kefu-badge--out')
    );
    stock.textContent = card.in_stock ? t.inStock : t.soldOut;
    meta.appendChild(stock);
    body.appendChild(meta);

    [
      ['specs', 'kefu-card__specs'],
      ['reasons', 'kefu-card__reasons'],
    ].forEach(function (pair) {
      const items = Array.isArray(card[pair[0]]) ? card[pair[0]].map(str).filter(Boolean) : [];
      if (items.length) {
        const list = el('ul', pair[1]);
        items.forEach(function (item) {
          const li = el('li');
          li.textContent = item;
          list.appendChild(li);
        });
        body.appendChild(list);
      }
    });

    const buttons = Array.isArray(card.buttons) ? card.buttons : [];
    if (buttons.length) {
      const group = el('div', 'kefu-card__buttons', { role: 'group', 'aria-label': name });
      buttons.forEach(function (button) {
        if (!button || !str(button.title)) {
          return;
        }
        const label = str(button.title);
        if (typeof button.url === 'string') {
          const target = safeUrl(button.url);
          if (target) {
            const a = link(label, target, 'kefu-card__button kefu-card__button--link');
            a.setAttribute('data-kefu', 'card-link');
            a.setAttribute('aria-label', label + ' ' + name + labels().newTab);
            group.appendChild(a);
          }
          return;
        }
        if (typeof button.payload !== 'string' || !button.payload) {
          return;
        }
        const node = payloadButton(label, 'kefu-card__button', 'card-button', function () {
          send(button.payload, label + t.about + name);
        });
        node.setAttribute('aria-label', label + ' ' + name);
        node.disabled = !live;
        group.appendChild(node);
      });
      body.appendChild(group);
    }
    article.appendChild(body);
    return article;
  }

  function renderCards(cards, live) {
    const t = labels();
    const list = el('div', 'kefu-cards', {
      role: 'list',
      'aria-label': t.products,
      'data-kefu': 'bot-message',
      tabindex: '0',
    });
    cards.cards.forEach(function (card) {
      list.appendChild(renderCard(card, cards.language, live));
    });
    return list;
  }

  /** Puts one stored message into the log; ``live`` is false for a transcript restored on load. */
  function render(entry, live) {
    const node = row(entry.from);
    if (entry.from === 'user') {
      const bubble = el('div', 'kefu-bubble', { 'data-kefu': 'user-message' });
      appendText(bubble, str(entry.text));
      node.appendChild(bubble);
    } else {
      const message = normalizeBot(entry.message) || {};
      if (message.text || message.quick_replies) {
        const bubble = el('div', 'kefu-bubble', { 'data-kefu': 'bot-message' });
        if (message.text) {
          const text = el('div', 'kefu-text', { 'data-kefu': 'text' });
          appendText(text, message.text);
          bubble.appendChild(text);
        }
        if (message.quick_replies) {
          bubble.appendChild(renderReplies(message.quick_replies, live));
        }
        node.appendChild(bubble);
      }
      const imageUrl = message.attachment && safeUrl(message.attachment.payload.src);
      if (imageUrl) {
        const figure = el('div', 'kefu-bubble kefu-bubble--image', { 'data-kefu': 'bot-message' });
        const img = el('img', 'kefu-image', {
          src: imageUrl,
          alt: labels().image,
          loading: 'lazy',
        });
        figure.appendChild(img);
        node.appendChild(figure);
      }
      if (message.custom) {
        if (live) {
          // positions on older cards no longer match the list the bot is talking about
          log.querySelectorAll('.kefu-card__buttons button').forEach(function (button) {
            button.disabled = true;
          });
        }
        node.appendChild(renderCards(message.custom, live));
      }
      if (!node.childNodes.length) {
        return null;
      }
    }
    log.appendChild(node);
    welcome.hidden = true;
    const rows = log.querySelectorAll('[data-kefu="message"]');
    for (let i = 0; i < rows.length - MAX_STORED; i += 1) {
      rows[i].remove();
    }
    log.scrollTop = log.scrollHeight;
    return node;
  }

  function record(entry) {
    const node = render(entry, true);
    if (node) {
      state.messages.push(entry);
      save();
    }
    return node;
  }

  function clearTranscript() {
    state.messages = [];
    log.querySelectorAll('[data-kefu="message"]').forEach(function (node) {
      node.remove();
    });
    welcome.hidden = false;
  }

  // ---- connection -----------------------------------------------------------------------------

  let socket = null;
  let connecting = false;
  let sessionReady = false;
  const pending = []; // {message, bubble} typed while there was no session
  let typingTimer = null;

  function setStatus(connected) {
    status.hidden = connected;
    root.classList.toggle('kefu-offline', !connected);
  }

  /** The typing indicator; the log is aria-busy from the start of a turn to its end. */
  function setTyping(on) {
    window.clearTimeout(typingTimer);
    typing.hidden = !on;
    log.setAttribute('aria-busy', String(on));
    if (on) {
      typingTimer = window.setTimeout(function () {
        setTyping(false);
      }, TYPING_TIMEOUT_MS);
      log.scrollTop = log.scrollHeight;
    }
  }

  function emitMessage(message) {
    const metadata = {};
    if (CUSTOMER_TOKEN) {
      metadata.customer_token = CUSTOMER_TOKEN;
    }
    socket.emit('user_uttered', {
      message: message,
      session_id: state.sessionId,
      metadata: metadata,
    });
  }

  function flush() {
    while (sessionReady && socket && socket.connected && pending.length) {
      const item = pending.shift();
      emitMessage(item.message);
      if (item.bubble) {
        item.bubble.classList.remove('kefu-pending');
        item.bubble.removeAttribute('title');
      }
    }
  }

  function onSessionConfirm(data) {
    const id = typeof data === 'string' ? data : data && data.session_id;
    if (typeof id !== 'string' || !SESSION_ID.test(id)) {
      return;
    }
    const secret = data && typeof data.session_secret === 'string' ? data.session_secret : null;
    if (state.sessionId && state.sessionId !== id) {
      // the stored conversation is gone on the server: its transcript would only mislead
      clearTranscript();
      pending.forEach(function (item) {
        if (item.entry) {
          item.bubble = record(item.entry).querySelector('.kefu-bubble');
          item.bubble.classList.add('kefu-pending');
        }
      });
    }
    state.sessionId = id;
    state.sessionSecret = secret;
    save();
    sessionReady = true;
    flush();
  }

  function onBotUttered(data) {
    typing.hidden = true; // the turn may go on (aria-busy stays) until bot_typing {on: false}
    const message = normalizeBot(data);
    if (message && record({ from: 'bot', message: message }) && panel.hidden) {
      unreadDot.hidden = false;
      labelLauncher();
    }
  }

  function onBotTyping(data) {
    setTyping(Boolean(data && data.on));
  }

  function startSocket(io) {
    const server = new URL(SERVER);
    const base = server.pathname.replace(/\/+$/, '');
    socket = io(server.origin, {
      path: base + '/socket.io',
      // WebSocket first; long-polling where a proxy or firewall stops WebSockets
      transports: ['websocket', 'polling'],
      tryAllTransports: true,
      withCredentials: false,
    });
    socket.on('connect', function () {
      setStatus(true);
      socket.emit('session_request', {
        session_id: state.sessionId || null,
        session_secret: state.sessionSecret || null,
      });
    });
    socket.on('disconnect', function (reason) {
      sessionReady = false;
      setStatus(false);
      setTyping(false);
      if (reason === 'io server disconnect') {
        socket.connect(); // socket.io only retries by itself when the client lost the server
      }
    });
    socket.on('connect_error', function () {
      setStatus(false);
    });
    socket.on('session_confirm', onSessionConfirm);
    socket.on('bot_uttered', onBotUttered);
    socket.on('bot_typing', onBotTyping);
  }

  /** Loads the socket.io client without leaving ``window.io`` behind (or replacing the page's). */
  function connect() {
    if (socket || connecting) {
      return;
    }
    connecting = true;
    setStatus(false);
    const hadIo = Object.prototype.hasOwnProperty.call(window, 'io');
    const pageIo = window.io;
    const tag = el('script', null, { src: SERVER + ASSET_DIR + 'socket.io.min.js', async: '' });
    tag.addEventListener('load', function () {
      const io = window.io;
      if (hadIo) {
        window.io = pageIo;
      } else {
        delete window.io;
      }
      tag.remove();
      if (typeof io === 'function') {
        startSocket(io);
      }
    });
    tag.addEventListener('error', function () {
      connecting = false; // try again the next time the chat is opened or used
      tag.remove();
    });
    document.head.appendChild(tag);
  }

  // ---- sending --------------------------------------------------------------------------------

  function charCount(text) {
    return Array.from(text).length;
  }

  function showNotice(text) {
    notice.textContent = text;
    notice.hidden = !text;
  }

  /**
   * Sends ``message`` to the bot.  ``shown`` is what the customer's bubble says (a button's title
   * for its payload); null sends without a bubble (the language switch).
   */
  function send(message, shown) {
    const item = { message: message, bubble: null, entry: null };
    if (shown !== null) {
      item.entry = { from: 'user', text: shown === undefined ? message : shown };
      const node = record(item.entry);
      item.bubble = node && node.querySelector('.kefu-bubble');
    }
    pending.push(item);
    if (!(sessionReady && socket && socket.connected) && item.bubble) {
      item.bubble.classList.add('kefu-pending');
      item.bubble.setAttribute('title', labels().queued);
    }
    // a new question moves on from the buttons the bot offered before
    log.querySelectorAll('.kefu-replies:not(.kefu-used)').forEach(disableGroup);
    connect();
    flush();
  }

  function updateCounter() {
    const count = charCount(input.value);
    counter.hidden = count < COUNTER_FROM;
    counter.textContent = count + '/' + MAX_CHARS;
    counter.classList.toggle('kefu-counter--over', count > MAX_CHARS);
    if (count <= MAX_CHARS && !notice.hidden) {
      showNotice('');
    }
    input.style.height = 'auto';
    input.style.height = Math.min(input.scrollHeight, 120) + 'px';
  }

  /** Sends the typed text; refuses (and keeps it) when longer than MAX_CHARS. */
  function sendTyped(text) {
    const message = String(text || '').trim();
    if (!message) {
      return false;
    }
    if (charCount(message) > MAX_CHARS) {
      showNotice(labels().tooLong);
      return false;
    }
    showNotice('');
    send(message);
    return true;
  }

  form.addEventListener('submit', function (event) {
    event.preventDefault();
    if (sendTyped(input.value)) {
      input.value = '';
      updateCounter();
    }
    input.focus();
  });

  input.addEventListener('keydown', function (event) {
    // Enter sends, Shift+Enter is a new line; never while an IME is composing (拼音 input)
    if (event.key === 'Enter' && !event.shiftKey && !event.isComposing && event.keyCode !== 229) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  input.addEventListener('input', updateCounter);

  // ---- opening, closing, language -------------------------------------------------------------

  function setOpen(open, options) {
    const focus = !options || options.focus !== false;
    panel.hidden = !open;
    root.classList.toggle('kefu-is-open', open);
    launcher.setAttribute('aria-expanded', String(open));
    state.open = open;
    save();
    unreadDot.hidden = unreadDot.hidden || open;
    labelLauncher();
    if (open) {
      connect();
      log.scrollTop = log.scrollHeight;
      if (focus) {
        input.focus();
      }
    } else if (focus) {
      launcher.focus();
    }
  }

  function setLanguage(language) {
    state.language = language;
    save();
    applyLabels();
    send('/switch_language' + JSON.stringify({ language: language }), null);
  }

  launcher.addEventListener('click', function () {
    setOpen(panel.hidden);
  });
  closeButton.addEventListener('click', function () {
    setOpen(false);
  });
  langToggle.addEventListener('click', function () {
    setLanguage(state.language === 'en' ? 'zh' : 'en');
  });
  root.addEventListener('keydown', function (event) {
    if (event.key === 'Escape' && !panel.hidden && !event.isComposing) {
      event.preventDefault();
      setOpen(false);
    }
  });

  // ---- start ----------------------------------------------------------------------------------

  function start() {
    const stylesheet = el('link', null, {
      rel: 'stylesheet',
      href: SERVER + ASSET_DIR + 'widget.css',
      'data-kefu': 'stylesheet',
    });
    const show = function () {
      root.hidden = false;
    };
    stylesheet.addEventListener('load', show);
    stylesheet.addEventListener('error', show);
    document.head.appendChild(stylesheet);

    applyLabels();
    // what no longer renders (an unknown or damaged entry) is dropped from storage too
    state.messages = state.messages.filter(function (entry) {
      const known = entry && (entry.from === 'user' || (entry.from === 'bot' && entry.message));
      return Boolean(known && render(entry, false));
    });
    document.body.appendChild(root);
    if (state.open) {
      setOpen(true, { focus: false });
    }
  }

  window.KefuChat = Object.freeze({
    open: function () {
      setOpen(true);
    },
    close: function () {
      setOpen(false);
    },
    send: function (text) {
      if (panel.hidden) {
        setOpen(true, { focus: false });
      }
      return sendTyped(text);
    },
  });

  if (document.body) {
    start();
  } else {
    document.addEventListener('DOMContentLoaded', start);
  }
})();
