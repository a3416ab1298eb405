/*
 * board.js - the dispatch board: the list, its filters, a booking's
 * details, the Dispatch button, live updates.
 *
 * Every text a booking holds is caller speech and untrusted: it reaches
 * the page only through textContent and createElement, never as markup.
 * (The api's Content-Security-Policy also refuses any script but this
 * file.) Live updates come from one EventSource: subscribe first, then
 * load the list, and merge by id, so a booking landing in between shows once.
 */
'use strict';

(function () {
	const byId = (id) => document.getElementById(id);
	const rows = new Map();		/* id -> booking, as the api sends it */
	const companies = new Set();
	const dids = new Set();
	let selected = null;
	let source = null;

	function status(text, bad) {
		const s = byId('status');
		s.textContent = text;
		s.className = bad ? 'status error' : 'status';
	}

	async function api(path, opts) {
		const r = await fetch(path, Object.assign({ credentials: 'same-origin' }, opts || {}));
		if (r.status === 401) {
			window.location.assign('/board/login');
			throw new Error('logged out');
		}
		const body = await r.json().catch(() => ({}));
		if (!r.ok)
			throw new Error(body.error || ('HTTP ' + r.status));
		return body;
	}

	function filters() {
		return {
			state: byId('f-state').value,
			company: byId('f-company').value,
			did: byId('f-did').value,
		};
	}

	function dayStart() {
		const d = new Date();
		d.setHours(0, 0, 0, 0);
		return d;
	}

	/* The filters, applied to a booking that came by the stream. */
	function matches(b) {
		const f = filters();
		if (f.company && b.company_name !== f.company)
			return false;
		if (f.did && b.did_number !== f.did)
			return false;
		if (f.state === '0' || f.state === '1')
			return String(b.dispatched ? 1 : 0) === f.state;
		if (f.state === 'board')
			return !b.dispatched || new Date(b.created_at) >= dayStart();
		return true;
	}

	function addOption(select, set, value) {
		if (!value || set.has(value))
			return;
		set.add(value);
		const o = document.createElement('option');
		o.value = value;
		o.textContent = value;
		select.appendChild(o);
	}

	function remember(b) {
		addOption(byId('f-company'), companies, b.company_name);
		addOption(byId('f-did'), dids, b.did_number);
	}

	function when(iso) {
		if (!iso)
			return '';
		const d = new Date(iso);
		return isNaN(d) ? String(iso) : d.toLocaleString([], { dateStyle: 'short', timeStyle: 'short' });
	}

	function fee(b) {
		return b.callout_fee === null || b.callout_fee === undefined ? '' : '\u00a3' + b.callout_fee;
	}

	function cell(tr, text) {
		const td = document.createElement('td');
		td.textContent = text === null || text === undefined ? '' : String(text);
		tr.appendChild(td);
	}

	function newest(a, b) {
		return a.created_at === b.created_at ? b.id - a.id : (a.created_at < b.created_at ? 1 : -1);
	}

	function row(b, fresh) {
		const tr = document.createElement('tr');
		tr.dataset.id = String(b.id);
		if (b.id === selected)
			tr.classList.add('selected');
		if (fresh)
			tr.classList.add('fresh');
		cell(tr, when(b.created_at));
		cell(tr, b.customer_name);
		cell(tr, b.postcode);
		cell(tr, b.problem_description);
		cell(tr, b.company_name);
		cell(tr, b.dispatched ? when(b.dispatched_at) : fee(b));
		tr.addEventListener('click', () => details(b.id));
		return tr;
	}

	function render(freshId) {
		const all = Array.from(rows.values()).sort(newest);
		for (const name of ['open', 'dispatched']) {
			const want = name === 'dispatched';
			const list = all.filter((b) => Boolean(b.dispatched) === want);
			const body = byId(name).tBodies[0];
			body.replaceChildren(...list.map((b) => row(b, b.id === freshId)));
			byId('n-' + name).textContent = String(list.length);
			byId(name + '-empty').hidden = list.length > 0;
		}
	}

	async function load() {
		const f = filters();
		const q = new URLSearchParams({ limit: '200' });
		if (f.state === 'board')
			q.set('today_or_open', '1');
		else if (f.state !== 'all')
			q.set('dispatched', f.state);
		if (f.company)
			q.set('company', f.company);
		if (f.did)
			q.set('did', f.did);
		try {
			const j = await api('/api/bookings?' + q.toString());
			rows.clear();
			for (const b of j.bookings) {
				remember(b);
				rows.set(b.id, b);
			}
			render();
			status('');
		} catch (e) {
			status('Could not load the bookings: ' + e.message, true);
		}
	}

	function put(id, text) {
		byId(id).textContent = text === null || text === undefined ? '' : String(text);
	}

	function transcript(turns) {
		const ol = byId('d-transcript');
		ol.replaceChildren();
		const list = Array.isArray(turns) ? turns : [];
		for (const t of list) {
			const li = document.createElement('li');
			const who = document.createElement('span');
			const role = t && typeof t.role === 'string' ? t.role : '';
			who.className = 'role ' + (role === 'caller' ? 'caller' : 'agent');
			who.textContent = role + ':';
			li.appendChild(who);
			li.appendChild(document.createTextNode(t && t.text !== undefined ? String(t.text) : ''));
			ol.appendChild(li);
		}
		byId('d-no-transcript').hidden = list.length > 0;
	}

	/* Only a path on this server: never a javascript: or another site's URL. */
	function recording(url) {
		const ok = typeof url === 'string' && url.startsWith('/') && !url.startsWith('//');
		byId('d-recording').hidden = !ok;
		byId('d-recording-link').href = ok ? url : '#';
	}

	function show(b) {
		put('d-ref', b.booking_ref);
		put('d-name', b.customer_name);
		put('d-phone', b.customer_phone);
		put('d-postcode', b.postcode);
		put('d-address', b.address);
		put('d-problem', b.problem_description);
		put('d-company', b.company_name);
		put('d-did', b.did_number);
		put('d-fee', fee(b));
		put('d-created', when(b.created_at));
		put('d-repeat', b.is_repeat ? 'yes' : 'no');
		put('d-source', b.source);
		put('d-dispatched', b.dispatched ? when(b.dispatched_at) : 'not yet');
		put('d-notes', b.notes);
		byId('dispatch-form').hidden = Boolean(b.dispatched);
		byId('details').hidden = false;
	}

	async function details(id) {
		selected = id;
		render();
		if (rows.has(id))
			show(rows.get(id));
		try {
			const j = await api('/api/bookings/' + encodeURIComponent(id));
			if (selected !== id)
				return;
			show(j.booking);
			transcript(j.booking.transcript);
			recording(j.booking.recording_url);
		} catch (e) {
			status('Could not load booking ' + id + ': ' + e.message, true);
		}
	}

	async function dispatch(ev) {
		ev.preventDefault();
		const id = selected;
		const button = byId('dispatch');
		if (id === null)
			return;
		button.disabled = true;
		try {
			await api('/api/bookings/' + encodeURIComponent(id) + '/dispatch', {
				method: 'POST',
				headers: { 'Content-Type': 'application/json' },
				body: JSON.stringify({ notes: byId('d-notes-input').value }),
			});
			byId('d-notes-input').value = '';
			status('Booking ' + id + ' dispatched.');
			/* The stream says so too; this board need not wait for it. */
			const b = rows.get(id);
			if (b) {
				b.dispatched = true;
				b.dispatched_at = new Date().toISOString();
			}
			render();
			details(id);
		} catch (e) {
			status('Dispatch failed: ' + e.message, true);
		} finally {
			button.disabled = false;
		}
	}

	function onBooking(ev) {
		const b = JSON.parse(ev.data);
		remember(b);
		if (!matches(b))
			return;
		rows.set(b.id, b);
		render(b.id);
		status('New booking from ' + (b.customer_name || 'a caller') + '.');
	}

	function onDispatched(ev) {
		const d = JSON.parse(ev.data);
		const b = rows.get(d.id);
		if (!b)
			return;
		Object.assign(b, d);
		if (!matches(b))
			rows.delete(b.id);
		render();
		if (selected === b.id)
			show(b);
	}

	function live(on) {
		const l = byId('live');
		l.textContent = on ? 'live' : 'reconnecting';
		l.className = on ? 'live on' : 'live';
	}

	function listen() {
		source = new EventSource('/api/bookings/events');
		source.addEventListener('open', () => {
			live(true);
			load();
		});
		source.addEventListener('booking', onBooking);
		source.addEventListener('dispatched', onDispatched);
		source.addEventListener('error', () => {
			live(false);
			if (source.readyState !== EventSource.CLOSED)
				return;	/* the browser retries by itself */
			/* Refused (a new api after a reload, a session that ended): ask why. */
			api('/api/bookings?limit=1').then(() => setTimeout(listen, 3000),
				() => setTimeout(listen, 5000));
		});
	}

	document.addEventListener('DOMContentLoaded', () => {
		for (const id of ['f-state', 'f-company', 'f-did'])
			byId(id).addEventListener('change', load);
		byId('dispatch-form').addEventListener('submit', dispatch);
		byId('d-close').addEventListener('click', () => {
			selected = null;
			byId('details').hidden = true;
			render();
		});
		listen();
	});
}());
