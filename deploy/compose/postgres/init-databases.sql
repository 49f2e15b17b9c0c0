-- One database per service: no service reads another's tables.
CREATE DATABASE registry;
CREATE DATABASE records;
CREATE DATABASE lists;
CREATE DATABASE objections;
CREATE DATABASE gateway;
