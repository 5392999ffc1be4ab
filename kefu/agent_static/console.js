/* The agent console's polling: the queue (one page of it) every 5 s, a ticket's live
   conversation every 2 s.  A ticket another agent took (403) stops its polling.
   Everything is written with textContent: nothing the server sends is parsed as HTML. */
(function () {
  'use strict';

  var QUEUE_EVERY_MS = 5000;
  var LIVE_EVERY_MS = 2000;
  var EXPIRED = '登录已过期，请重新登录。 · Your session has expired: log in again.';
  var OFFLINE = '暂时无法刷新。 · Cannot refresh right now.';
  var FORBIDDEN = '这个工单已不归您处理。 · This ticket is no longer yours to see.';

  function cell(row, text, className) {
    var td = document.createElement('td');
    td.textContent = text;
    if (className) td.className = className;
    row.appendChild(td);
    return td;
  }

  function link(href, text) {
    var a = document.createElement('a');
    a.href = href;
    a.textContent = text;
    return a;
  }

  function poll(url, every, onData, onProblem) {
    var timer = null;
    function tick() {
      fetch(url, { credentials: 'same-origin', headers: { Accept: 'application/json' } })
        .then(function (response) {
          if (response.status === 401) {
            onProblem(EXPIRED);
            return null; // stop: only a new login helps
          }
          if (response.status === 403) {
            return response.json().then(function (data) {
              onProblem((data && data.message) || FORBIDDEN);
            }, function () {
              onProblem(FORBIDDEN);
            }); // stop: the ticket is another agent's now
          }
          if (!response.ok) throw new Error('HTTP ' + response.status);
          return response.json().then(function (data) {
            onProblem('');
            onData(data);
            timer = setTimeout(tick, every);
          });
        })
        .catch(function () {
          onProblem(OFFLINE);
          timer = setTimeout(tick, every);
        });
    }
    timer = setTimeout(tick, every);
    return function () { clearTimeout(timer); };
  }

  function startQueue(table) {
    var body = table.querySelector('[data-console="queue-rows"]');
    var empty = document.querySelector('[data-console="queue-empty"]');
    var status = document.querySelector('[data-console="queue-status"]');
    poll(table.getAttribute('data-poll'), QUEUE_EVERY_MS, function (data) {
      var rows = document.createDocumentFragment();
      data.tickets.forEach(function (ticket) {
        var tr = document.createElement('tr');
        tr.setAttribute('data-console', 'ticket');
        tr.setAttribute('data-ticket-id', String(ticket.id));
        tr.setAttribute('data-status', ticket.status);
        cell(tr, '').appendChild(link(ticket.href, String(ticket.id)));
        cell(tr, ticket.reason_text);
        cell(tr, ticket.language);
        cell(tr, ticket.channel);
        cell(tr, ticket.waiting).title = ticket.opened;
        cell(tr, '').appendChild(link(ticket.href, ticket.summary));
        cell(tr, ticket.sentiment_text, 'mood mood--' + (ticket.mood || 'none'));
        cell(tr, ticket.agent || '—');
        rows.appendChild(tr);
      });
      body.replaceChildren(rows);
      if (empty) empty.hidden = data.tickets.length > 0;
      var page = document.querySelector('[data-console="page"]');
      if (page && data.page) {
        page.textContent = '第 ' + data.page + ' / ' + data.pages + ' 页，共 ' + data.total +
          ' 个 · Page ' + data.page + ' of ' + data.pages + ', ' + data.total + ' tickets';
      }
      document.querySelectorAll('[data-console^="with-others-count"]').forEach(function (span) {
        span.textContent = String(data.with_others || 0);
      });
    }, function (problem) {
      if (status) status.textContent = problem;
    });
  }

  function who(message) {
    if (message.who === 'agent') return message.agent;
    return message.who === 'customer' ? '客户 · customer' : '机器人 · bot';
  }

  function startLive(list) {
    var error = document.querySelector('[data-console="live-error"]');
    var status = document.querySelector('[data-console="status"]');
    var shown = '';
    poll(list.getAttribute('data-live'), LIVE_EVERY_MS, function (data) {
      if (status && data.row) {
        status.textContent = data.row.status_text + (data.agent ? '（' + data.agent + '）' : '');
        status.setAttribute('data-status', data.status);
      }
      if (error) {
        error.textContent = data.error || '';
        error.hidden = !data.error;
      }
      if (data.error) return; // keep what is on the page
      var key = JSON.stringify(data.messages);
      if (key === shown) return;
      shown = key;
      var atBottom = list.scrollTop + list.clientHeight >= list.scrollHeight - 8;
      var items = document.createDocumentFragment();
      data.messages.forEach(function (message) {
        var li = document.createElement('li');
        li.className = 'message message--' + message.who;
        li.setAttribute('data-from', message.who);
        [['message__who', who(message)], ['message__at', message.at],
          ['message__text', message.text]].forEach(function (part) {
          var span = document.createElement('span');
          span.className = part[0];
          span.textContent = part[1];
          li.appendChild(span);
        });
        items.appendChild(li);
      });
      list.replaceChildren(items);
      if (atBottom) list.scrollTop = list.scrollHeight;
    }, function (problem) {
      if (problem && error) {
        error.textContent = problem;
        error.hidden = false;
      }
    });
    list.scrollTop = list.scrollHeight;
  }

  var ASSIST_FAILED = '暂时无法生成建议。 · Suggestions are not available right now.';
  var INSERT = '插入回复框 · Insert';

  function element(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function insertReply(text) {
    var box = document.querySelector('[data-console="reply-text"]');
    if (!box) return;
    box.value = text; // the agent edits it and sends it; nothing is sent from here
    box.focus();
    box.setSelectionRange(box.value.length, box.value.length);
  }

  function showAssist(panel, data) {
    var summary = panel.querySelector('[data-console="assist-summary"]');
    var list = panel.querySelector('[data-console="suggestions"]');
    var declined = panel.querySelector('[data-console="assist-declined"]');
    var canInsert = panel.getAttribute('data-can-insert') === 'yes';
    var lines = document.createDocumentFragment();
    data.summary.forEach(function (line) {
      var li = element('li', 'assist__line assist__line--' + line.kind, line.text);
      li.setAttribute('data-kind', line.kind);
      lines.appendChild(li);
    });
    summary.replaceChildren(lines);
    var items = document.createDocumentFragment();
    data.suggestions.forEach(function (suggestion) {
      var li = element('li', 'suggestion');
      li.setAttribute('data-console', 'suggestion');
      li.setAttribute('data-kind', suggestion.kind);
      li.appendChild(element('pre', 'suggestion__text', suggestion.text));
      if (canInsert) {
        var button = element('button', 'button button--small', INSERT);
        button.type = 'button';
        button.setAttribute('data-console', 'suggestion-insert');
        button.addEventListener('click', function () { insertReply(suggestion.text); });
        li.appendChild(button);
      }
      items.appendChild(li);
    });
    list.replaceChildren(items);
    declined.textContent = data.declined || '';
    declined.hidden = !data.declined;
  }

  function startAssist(panel) {
    var status = panel.querySelector('[data-console="assist-status"]');
    var refresh = panel.querySelector('[data-console="assist-refresh"]');
    var preparing = status.textContent;
    function load() {
      status.textContent = preparing;
      status.hidden = false;
      panel.setAttribute('aria-busy', 'true');
      fetch(panel.getAttribute('data-assist'), {
        credentials: 'same-origin', headers: { Accept: 'application/json' }
      }).then(function (response) {
        return response.json().then(function (data) {
          if (!response.ok) {
            var refused = new Error((data && data.message) || ASSIST_FAILED);
            refused.shown = true;
            throw refused;
          }
          showAssist(panel, data);
          status.hidden = true;
        });
      }).catch(function (problem) {
        status.textContent = problem && problem.shown ? problem.message : ASSIST_FAILED;
      }).then(function () {
        panel.setAttribute('aria-busy', 'false');
      });
    }
    if (refresh) refresh.addEventListener('click', load);
    load();
  }

  document.addEventListener('DOMContentLoaded', function () {
    var assist = document.querySelector('[data-assist]');
    if (assist) startAssist(assist);
    var queue = document.querySelector('[data-poll]');
    if (queue) startQueue(queue);
    var live = document.querySelector('[data-live]');
    if (live) startLive(live);
  });
})();
