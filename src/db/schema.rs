// The diesel view of migrations/{sqlite,postgres}. tests/migrations.rs fails when a column here
// and in the migrated database disagree, on either backend.

diesel::table! {
    app_secrets (name) {
        name -> Text,
        value -> Text,
    }
}

diesel::table! {
    sync_actions (user_id, idempotency_key) {
        user_id -> BigInt,
        idempotency_key -> Text,
        site_id -> BigInt,
        kind -> Text,
        outcome -> Text,
        reason -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    readiness (id) {
        id -> Integer,
        checked_at -> Timestamp,
    }
}

diesel::table! {
    towns (id) {
        id -> BigInt,
        code -> Text,
        name -> Text,
        eligible -> BigInt,
        contact_emails -> Text,
        active -> Bool,
        name_en -> Nullable<Text>,
    }
}

diesel::table! {
    products (id) {
        id -> BigInt,
        code -> Text,
        name -> Text,
        manufacturer -> Text,
        doses_in_series -> Integer,
        min_interval_days -> Integer,
        max_interval_days -> Integer,
        min_age_years -> Integer,
        max_age_years -> Integer,
        pack_size -> Integer,
        name_en -> Nullable<Text>,
    }
}

diesel::table! {
    sites (id) {
        id -> BigInt,
        town_id -> BigInt,
        name -> Text,
        address -> Text,
        active -> Bool,
        name_en -> Nullable<Text>,
        address_en -> Nullable<Text>,
    }
}

diesel::table! {
    slots (id) {
        id -> BigInt,
        site_id -> BigInt,
        product_id -> BigInt,
        starts_at -> Timestamp,
        ends_at -> Timestamp,
        seats -> Integer,
        second_dose_held -> Integer,
        booked_first -> Integer,
        booked_second -> Integer,
        opens_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    stock_balances (site_id, product_id) {
        site_id -> BigInt,
        product_id -> BigInt,
        on_hand -> Integer,
        promised -> Integer,
    }
}

diesel::table! {
    stock_movements (id) {
        id -> BigInt,
        site_id -> Nullable<BigInt>,
        product_id -> BigInt,
        delta -> Integer,
        kind -> Text,
        reason -> Text,
        actor -> Text,
        lot -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    residents (id) {
        id -> BigInt,
        id_hash -> Text,
        id_last4 -> Text,
        birth_date -> Date,
        name -> Text,
        phone -> Text,
        email -> Text,
        lang -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    households (id) {
        id -> BigInt,
        members -> Integer,
        created_at -> Timestamp,
    }
}

diesel::table! {
    household_members (resident_id) {
        resident_id -> BigInt,
        household_id -> BigInt,
        added_at -> Timestamp,
    }
}

diesel::table! {
    appointments (id) {
        id -> BigInt,
        code -> Text,
        resident_id -> BigInt,
        slot_id -> BigInt,
        site_id -> BigInt,
        product_id -> BigInt,
        dose_number -> Integer,
        status -> Text,
        starts_at -> Timestamp,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        checked_in_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    vaccinations (id) {
        id -> BigInt,
        resident_id -> BigInt,
        appointment_id -> Nullable<BigInt>,
        site_id -> BigInt,
        product_id -> BigInt,
        dose_number -> Integer,
        lot -> Text,
        given_at -> Timestamp,
        staff_user_id -> Nullable<BigInt>,
        observation_until -> Timestamp,
    }
}

diesel::table! {
    waiting_list (id) {
        id -> BigInt,
        town_id -> BigInt,
        resident_id -> BigInt,
        dose_number -> Integer,
        status -> Text,
        created_at -> Timestamp,
        priority -> Integer,
    }
}

diesel::table! {
    users (id) {
        id -> BigInt,
        username -> Text,
        password_hash -> Text,
        role -> Text,
        site_id -> Nullable<BigInt>,
        active -> Bool,
        created_at -> Timestamp,
    }
}

diesel::table! {
    sessions (id) {
        id -> Text,
        user_id -> BigInt,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        revoked_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    audit_log (id) {
        id -> BigInt,
        created_at -> Timestamp,
        actor -> Text,
        action -> Text,
        subject -> Text,
        detail -> Text,
        town_id -> Nullable<BigInt>,
    }
}

diesel::table! {
    shipments (id) {
        id -> BigInt,
        product_id -> BigInt,
        doses -> Integer,
        received_on -> Date,
        next_expected_on -> Date,
        next_latest_on -> Date,
        status -> Text,
        recorded_by -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    lots (id) {
        id -> BigInt,
        shipment_id -> Nullable<BigInt>,
        product_id -> BigInt,
        lot_number -> Text,
        expires_on -> Date,
        doses -> Integer,
    }
}

diesel::table! {
    allocation_plans (id) {
        id -> BigInt,
        shipment_id -> BigInt,
        status -> Text,
        instance_json -> Text,
        plan_json -> Text,
        optimal_json -> Text,
        created_by -> Text,
        created_at -> Timestamp,
        approved_by -> Nullable<Text>,
        approved_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    town_notices (id) {
        id -> BigInt,
        town_id -> BigInt,
        plan_id -> BigInt,
        doses -> Integer,
        arrives_on -> Date,
        second_doses_due -> Integer,
        due_by -> Nullable<Date>,
        first_dose_seats -> Integer,
        created_at -> Timestamp,
    }
}

diesel::table! {
    screenings (id) {
        id -> BigInt,
        appointment_id -> BigInt,
        fever -> Bool,
        allergy -> Bool,
        pregnant -> Bool,
        recent_vaccine -> Bool,
        outcome -> Text,
        reason -> Text,
        staff_user_id -> Nullable<BigInt>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    adverse_events (id) {
        id -> BigInt,
        vaccination_id -> BigInt,
        resident_id -> BigInt,
        site_id -> BigInt,
        severity -> Text,
        symptoms -> Text,
        action_taken -> Text,
        occurred_at -> Timestamp,
        recorded_by -> Nullable<BigInt>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    outbox (id) {
        id -> BigInt,
        kind -> Text,
        ref_id -> BigInt,
        recipient -> Text,
        lang -> Text,
        message_id -> Text,
        dedupe_key -> Nullable<Text>,
        status -> Text,
        attempts -> Integer,
        next_attempt_at -> Timestamp,
        lease_until -> Nullable<Timestamp>,
        claim_token -> Nullable<Text>,
        last_error -> Nullable<Text>,
        created_at -> Timestamp,
        sent_at -> Nullable<Timestamp>,
        slot_id -> Nullable<BigInt>,
    }
}

diesel::table! {
    site_products (site_id, product_id) {
        site_id -> BigInt,
        product_id -> BigInt,
    }
}

diesel::table! {
    site_templates (site_id) {
        site_id -> BigInt,
        slot_minutes -> Integer,
        seats -> Integer,
        days_ahead -> Integer,
        updated_by -> Text,
        updated_at -> Timestamp,
        release_days -> Nullable<Integer>,
        release_minutes -> Nullable<Integer>,
        draw_minutes -> Integer,
    }
}

diesel::table! {
    site_hours (site_id, weekday) {
        site_id -> BigInt,
        weekday -> Integer,
        opens -> Integer,
        lunch_starts -> Nullable<Integer>,
        lunch_ends -> Nullable<Integer>,
        closes -> Integer,
    }
}

diesel::table! {
    site_exceptions (id) {
        id -> BigInt,
        site_id -> BigInt,
        day -> Date,
        kind -> Text,
        starts -> Integer,
        ends -> Integer,
        seats -> Nullable<Integer>,
        reason -> Text,
        created_by -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    product_changes (id) {
        id -> BigInt,
        product_id -> BigInt,
        old_min_interval_days -> Integer,
        old_max_interval_days -> Integer,
        new_min_interval_days -> Integer,
        new_max_interval_days -> Integer,
        reason -> Text,
        changed_by -> Text,
        changed_at -> Timestamp,
    }
}

diesel::table! {
    draws (id) {
        id -> BigInt,
        site_id -> BigInt,
        opens_at -> Timestamp,
        closes_at -> Timestamp,
        seed -> Text,
        seed_hash -> Text,
        status -> Text,
        entries -> Integer,
        claim_token -> Nullable<Text>,
        lease_until -> Nullable<Timestamp>,
        drawn_at -> Nullable<Timestamp>,
        order_codes -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    draw_entries (id) {
        id -> BigInt,
        code -> Text,
        draw_id -> BigInt,
        slot_id -> BigInt,
        product_id -> BigInt,
        starts_at -> Timestamp,
        resident_id -> BigInt,
        dose_number -> Integer,
        status -> Text,
        position -> Nullable<Integer>,
        appointment_id -> Nullable<BigInt>,
        created_at -> Timestamp,
        decided_at -> Nullable<Timestamp>,
        any_site_in_town -> Bool,
        reason -> Nullable<Text>,
    }
}

diesel::table! {
    exception_moves (id) {
        id -> BigInt,
        exception_id -> BigInt,
        appointment_id -> BigInt,
        from_slot_id -> BigInt,
        from_site_id -> BigInt,
        from_starts_at -> Timestamp,
        from_ends_at -> Timestamp,
        to_slot_id -> Nullable<BigInt>,
        created_at -> Timestamp,
    }
}

diesel::joinable!(sites -> towns (town_id));
diesel::joinable!(slots -> sites (site_id));
diesel::joinable!(slots -> products (product_id));
diesel::joinable!(appointments -> slots (slot_id));
diesel::joinable!(appointments -> residents (resident_id));
diesel::joinable!(sessions -> users (user_id));
diesel::joinable!(lots -> shipments (shipment_id));
diesel::joinable!(allocation_plans -> shipments (shipment_id));
diesel::joinable!(town_notices -> towns (town_id));
diesel::joinable!(site_products -> sites (site_id));
diesel::joinable!(site_products -> products (product_id));
diesel::joinable!(draws -> sites (site_id));
diesel::joinable!(draw_entries -> draws (draw_id));
diesel::joinable!(draw_entries -> residents (resident_id));
diesel::joinable!(household_members -> households (household_id));
diesel::joinable!(household_members -> residents (resident_id));

diesel::allow_tables_to_appear_in_same_query!(
    app_secrets,
    towns,
    products,
    sites,
    slots,
    stock_balances,
    stock_movements,
    residents,
    appointments,
    vaccinations,
    waiting_list,
    users,
    sessions,
    audit_log,
    shipments,
    lots,
    allocation_plans,
    town_notices,
    screenings,
    adverse_events,
    outbox,
    site_products,
    site_templates,
    site_hours,
    site_exceptions,
    product_changes,
    draws,
    draw_entries,
    sync_actions,
    exception_moves,
    households,
    household_members,
);
