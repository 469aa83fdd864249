#!/usr/bin/python3
"""A minimal WebKitGTK browser for WebKitWebDriver, on a persistent profile.

MiniBrowser's --automation profile is ephemeral (no OPFS, no Blobs in IndexedDB), and the
tests restart the browser on the same profile, so the e2e WebKit driver starts this instead.
Arguments: --profile=DIR (required), --features=+Name,-Name (WebKit feature flags, as
MiniBrowser's), --console (print page console messages). Others (--automation) are ignored.
"""
import ctypes
import os
import signal
import sys

import gi

gi.require_version("Gtk", "3.0")
gi.require_version("WebKit2", "4.1")
from gi.repository import GLib, Gtk, WebKit2  # noqa: E402


def option(name, default=None):
    """The value of --name=value in argv, or default."""
    prefix = f"--{name}="
    return next((arg[len(prefix):] for arg in sys.argv[1:] if arg.startswith(prefix)), default)


def make_settings():
    """Settings every view shares: the feature flags asked for, as MiniBrowser's --features sets them."""
    settings = WebKit2.Settings()
    settings.set_enable_write_console_messages_to_stdout("--console" in sys.argv)
    wanted = {}
    for item in filter(None, option("features", "").split(",")):
        wanted[item.lstrip("+-")] = not item.startswith("-")
    features = WebKit2.Settings.get_all_features()
    for index in range(features.get_length()):
        feature = features.get(index)
        if feature.get_identifier() in wanted:
            settings.set_feature_enabled(feature, wanted.pop(feature.get_identifier()))
    if wanted:
        sys.exit(f"webkit-browser: unknown features {sorted(wanted)}")
    return settings


def main():
    profile = option("profile")
    if not profile:
        sys.exit("webkit-browser: --profile=DIR is required")
    # A data manager with directories (not is-ephemeral) is what makes the profile persistent.
    manager = WebKit2.WebsiteDataManager(
        base_data_directory=os.path.join(profile, "data"),
        base_cache_directory=os.path.join(profile, "cache"),
    )
    context = WebKit2.WebContext(website_data_manager=manager)
    context.get_cookie_manager().set_persistent_storage(
        os.path.join(profile, "cookies.sqlite"), WebKit2.CookiePersistentStorage.SQLITE
    )
    context.set_automation_allowed(True)
    settings = make_settings()
    windows = []

    def show(view):
        window = Gtk.Window()
        window.set_default_size(1280, 800)
        window.add(view)
        view.connect("close", lambda _view: window.destroy())
        window.connect("destroy", lambda w: windows.remove(w))
        windows.append(window)
        window.show_all()

    def new_view():
        # Pages cannot open windows (WebKit blocks window.open without a user gesture), so only
        # WebDriver's New Window makes views, and each gets its own top-level window.
        view = WebKit2.WebView(web_context=context, settings=settings, is_controlled_by_automation=True)
        show(view)
        return view

    def automation_started(_context, session):
        info = WebKit2.ApplicationInfo()
        info.set_name("bgdl-webkit-browser")
        session.set_application_info(info)
        session.connect("create-web-view", lambda _session: new_view())

    context.connect("automation-started", automation_started)

    def quit_gracefully():
        # Closing every view first lets WebKit end its web and network processes as on a user's quit.
        for window in list(windows):
            window.destroy()
        Gtk.main_quit()
        return GLib.SOURCE_REMOVE

    # If WebKitWebDriver dies (a test run killed), quit too rather than run on unseen.
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGTERM, quit_gracefully)
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGINT, quit_gracefully)
    Gtk.main()


if __name__ == "__main__":
    main()
